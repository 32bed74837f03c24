"""WeChat's side of `aftersales simulate wechat`: XML as WeChat writes it, signed with wechatpy.

Kept apart from bot/simulate.py so the generic simulator stays provider-free; the
signatures come from wechatpy's own signer and cipher, so what the bot accepts here it
accepts from WeChat.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from config.settings import WeChatSettings

WEBHOOK_PATH = "/webhooks/wechat"
SIMULATED_OA = "gh_simulated_oa"


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def wechat_message_xml(openid: str, msg_type: str, msg_id: int, **fields: Any) -> str:
    nodes = [
        f"<ToUserName>{_cdata(SIMULATED_OA)}</ToUserName>",
        f"<FromUserName>{_cdata(openid)}</FromUserName>",
        f"<CreateTime>{int(time.time())}</CreateTime>",
        f"<MsgType>{_cdata(msg_type)}</MsgType>",
    ]
    nodes += [f"<{key}>{_cdata(str(value))}</{key}>" for key, value in fields.items()]
    nodes.append(f"<MsgId>{msg_id}</MsgId>")
    return "<xml>" + "".join(nodes) + "</xml>"


def signed_wechat_post(settings: WeChatSettings, xml: str) -> tuple[str, dict[str, str], bytes]:
    """Path with the signed query, headers and body — encrypted when safe mode is configured."""
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(5)
    signer = WeChatSigner()
    signer.add_data(settings.token, timestamp, nonce)
    query = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}
    body = xml.encode()
    if settings.encoding_aes_key:
        crypto = WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
        envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        body = (
            f"<xml><ToUserName>{_cdata(SIMULATED_OA)}</ToUserName>"
            f"<Encrypt>{_cdata(envelope['Encrypt'])}</Encrypt></xml>"
        ).encode()
        query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
    return f"{WEBHOOK_PATH}?{urlencode(query)}", {"Content-Type": "text/xml"}, body
