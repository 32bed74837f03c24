# One command to try it, one to test it. Both start from a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/demo.toml

LOCALE := config/locale

.PHONY: install run test lint bench clean catalogs fonts

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d $(LOCALE) -D aftersales

# After changing texts in the code: re-extract the msgids, merge them into every language's
# catalog (new ones untranslated, changed ones fuzzy: tests/bot/test_i18n.py fails until a
# translator has filled them in), then compile.
catalogs: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _ -k ngettext:1,2 -k N_ --no-default-keywords \
		--add-location=file --sort-output --width=110 --project aftersales --copyright-holder aftersales \
		-o $(LOCALE)/aftersales.pot .
	$(BIN)/pybabel -q update -i $(LOCALE)/aftersales.pot -d $(LOCALE) -D aftersales --ignore-obsolete \
		--width=110 --ignore-pot-creation-date
	$(BIN)/pybabel -q compile -d $(LOCALE) -D aftersales

# The generated PDFs embed a CJK TrueType face and DejaVu Sans (serve refuses to start without them).
fonts:
	@[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      fonts-wqy-microhei fonts-dejavu-core; \
	  else echo "install fonts-wqy-microhei and fonts-dejavu-core (or set documents.cjk_font)" >&2; fi; }

run: install fonts
	mkdir -p var
	$(BIN)/aftersales --config $(CONFIG) db upgrade
	$(BIN)/aftersales --config $(CONFIG) demo seed
	$(BIN)/aftersales --config $(CONFIG) serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache
