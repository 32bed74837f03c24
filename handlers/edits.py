"""A client's correction of an earlier message: stored as an edit of it, answered only when awaited.

Telegram delivers an edited message as a new update (`extra["edit_of"]`: the id of the
message it corrects). It is linked to the stored original both ways (the API and console
show which message was corrected). If the conversation is in a dialog, the bot is waiting
for an answer and the corrected text is that answer: the dialog's handler gets it. Otherwise
the bot has already answered the original and the correction is only recorded; answering it
again (or with "did not understand") would be noise. In a conversation with a colleague the
correction is relayed to them like any other message.
"""

from __future__ import annotations

from bot.states import ConversationState
from handlers.base import Context, Outcome
from storage.repos import messages as message_repo


class EditedMessage:
    name = "edited_message"
    observer = True  # first of all: nothing else runs on a correction nobody is waiting for

    def matches(self, ctx: Context) -> bool:
        return bool(ctx.message.extra.get("edit_of"))

    async def handle(self, ctx: Context) -> Outcome:
        msg = ctx.message
        original = await message_repo.original_of_edit(
            ctx.session, str(msg.channel), msg.channel_user_id, str(msg.extra["edit_of"])
        )
        edit = await message_repo.get_message(ctx.session, ctx.message_id)
        if original is not None and edit is not None:
            message_repo.record_edit(original, edit)
        conv = ctx.conversation
        waiting = conv.dialog is not None and ctx.in_dialog(conv.dialog)
        # With a colleague the correction is relayed like any message: a person reads along.
        relayed = conv.state == ConversationState.WITH_STAFF
        return Outcome.CONTINUE if waiting or relayed else Outcome.DONE
