"""Telegram Bot API: a small client and a pure parser of ``Update`` objects. Plain Python, no ORM.

Every call goes through :meth:`TelegramClient.request` (``POST <base>/bot<token>/<method>``):
explicit timeouts, the token kept out of error messages, and Telegram's answers turned into
:class:`TelegramError`. Telegram answers every call with ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 5",
"parameters": {"retry_after": 5}}`` (Bot API, "Making requests" and ``ResponseParameters``).

:func:`parse_update` reads one webhook ``Update`` into plain items the Odoo provider turns into
events. Ids (chat, user, message) are kept as the exact integers Telegram sends: chat ids may
exceed 32 bits and groups' are negative. No English words are produced here: the Odoo side adds
translated labels.
"""

import unicodedata
from datetime import datetime, timezone

import requests

from .graph_client import Timeouts

DEFAULT_BASE_URL = "https://api.telegram.org"
TEXT_LIMIT = 4096  # sendMessage text, in UTF-16 code units after entities parsing
CAPTION_LIMIT = 1024  # photo and document captions
# What the webhook asks Telegram for (setWebhook allowed_updates): the rest is never sent.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
GROUP_TYPES = ("group", "supergroup")
MEDIA_TYPES = ("photo", "document", "voice", "audio", "video", "video_note", "animation", "sticker")
# Default types of files Telegram does not describe (photos have none; voices, videos are usually these)
DEFAULT_MIMETYPES = {
    "photo": "image/jpeg",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "video_note": "video/mp4",
    "animation": "video/mp4",
}
EXTENSIONS = {"photo": ".jpg", "voice": ".ogg", "video": ".mp4", "video_note": ".mp4", "animation": ".mp4"}
MAX_ID_DIGITS = 20


class PayloadError(ValueError):
    """The update cannot be used at all (the reason is the message)."""


class TelegramError(Exception):
    """A Bot API call that did not succeed.

    ``status`` is the HTTP status (None when no answer came), ``error_code`` and ``description``
    come from Telegram's body when there is one, ``retry_after`` is ``parameters.retry_after``.
    """

    def __init__(self, description, *, status=None, error_code=None, retry_after=None, migrate_to_chat_id=None):
        super().__init__(description)
        self.description = description
        self.status = status
        self.error_code = error_code
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    @property
    def transient(self):
        """Whether the same call may succeed later: flood control or Telegram's own trouble."""
        code = self.error_code or self.status or 0
        return code == 429 or code >= 500 or (self.status or 0) >= 500

    @property
    def blocked(self):
        """The user blocked the bot (or deleted their account): nothing can reach them."""
        return (self.error_code or self.status) == 403

    def __str__(self):
        return self.description


class TelegramTimeout(TelegramError):
    """No answer in time. For a send, Telegram may still have delivered the message."""

    transient = True


class TelegramConnectionError(TelegramError):
    """The Bot API could not be reached, or the connection broke."""

    transient = True


class TelegramClient:
    """Calls to the Bot API with one bot token. ``base_url`` is ``https://api.telegram.org``
    (tests point it at a local server); ``timeout`` is ``(connect, read)`` seconds."""

    def __init__(self, base_url, token, timeout=(3.05, 10), session=None):
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.token = token
        self.timeout = Timeouts(*timeout) if isinstance(timeout, (tuple, list)) else timeout
        self.session = session or requests.Session()

    def request(self, method, params=None, files=None):
        """Call ``method`` and return its ``result``. ``params`` go as JSON, or as form fields
        next to ``files`` ({field: (filename, bytes, mimetype)}, multipart)."""
        url = f"{self.base_url}/bot{self.token}/{method}"
        if files:
            kwargs = {"data": {key: _form_value(value) for key, value in (params or {}).items()}, "files": files}
        else:
            kwargs = {"json": params or {}}
        response = self._send("POST", url, method, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TelegramError(
                f"{method}: HTTP {response.status_code} {response.reason or ''} without a JSON answer".strip(),
                status=response.status_code,
            )
        if response.ok and body.get("ok") is True:
            return body.get("result")
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        description = body.get("description")
        if not isinstance(description, str) or not description:
            description = f"HTTP {response.status_code}"
        error_code = body.get("error_code")
        raise TelegramError(
            f"{method}: {description}",
            status=response.status_code,
            error_code=error_code if isinstance(error_code, int) and not isinstance(error_code, bool) else None,
            retry_after=_seconds(parameters.get("retry_after")),
            migrate_to_chat_id=parameters.get("migrate_to_chat_id"),
        )

    def _send(self, http_method, url, label, **kwargs):
        """The one place the network is touched; failures never show the token (it is in the URL)."""
        try:
            return self.session.request(http_method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectTimeout as exc:  # nothing reached Telegram: safe to try again
            raise TelegramConnectionError(f"{label}: cannot reach Telegram ({exc.__class__.__name__})") from None
        except requests.Timeout as exc:
            raise TelegramTimeout(f"{label}: no answer from Telegram in time ({exc.__class__.__name__})") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TelegramConnectionError(f"{label}: cannot reach Telegram ({exc.__class__.__name__})") from None
        except requests.RequestException as exc:
            raise TelegramError(f"{label}: cannot call Telegram ({exc.__class__.__name__})") from None

    # -- methods -----------------------------------------------------------------------
    def get_me(self):
        return self.request("getMe")

    def get_webhook_info(self):
        return self.request("getWebhookInfo")

    def set_webhook(self, url, secret_token, allowed_updates=None):
        params = {"url": url, "secret_token": secret_token, "allowed_updates": allowed_updates or ALLOWED_UPDATES}
        return self.request("setWebhook", params)

    def send_message(self, chat_id, text, **extra):
        return self.request("sendMessage", {"chat_id": chat_id, "text": text, **extra})

    def send_file(self, method, field, chat_id, filename, content, mimetype, caption=None):
        """``sendPhoto`` (field ``photo``) or ``sendDocument`` (``document``), uploaded as multipart."""
        params = {"chat_id": chat_id}
        if caption:
            params["caption"] = caption
        return self.request(method, params, files={field: (filename, content, mimetype)})

    def get_file(self, file_id):
        """``File``: ``file_id``, ``file_unique_id``, ``file_size``, ``file_path`` (valid one hour)."""
        return self.request("getFile", {"file_id": file_id})

    def download(self, file_path):
        """The bytes at ``<base>/file/bot<token>/<file_path>``."""
        response = self._send("GET", f"{self.base_url}/file/bot{self.token}/{file_path}", "download")
        if not response.ok:
            raise TelegramError(f"download: HTTP {response.status_code}", status=response.status_code)
        return response.content

    def answer_callback_query(self, callback_query_id):
        return self.request("answerCallbackQuery", {"callback_query_id": callback_query_id})


def _form_value(value):
    return value if isinstance(value, (str, bytes)) else str(value)


def _seconds(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    return min(int(value), 86400)


# ------------------------------------------------------------ splitting long texts
def utf16_len(text):
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _joins_previous(char):
    """Whether ``char`` belongs to the grapheme before it: combining marks, joiners, variation
    selectors, emoji skin tones and tags."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or code in (0x200C, 0x200D)
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def split_text(text, limit=TEXT_LIMIT):
    """``text`` in parts of at most ``limit`` UTF-16 code units (how Telegram counts), cut after
    a line break or a space when one is in the second half of a part, never inside a character
    or an emoji sequence (ZWJ sequences, skin tones, flags, combining accents)."""
    parts = []
    while utf16_len(text) > limit:
        units, cut = 0, 0
        for index, char in enumerate(text):
            units += 2 if ord(char) > 0xFFFF else 1
            if units > limit:
                cut = index
                break
        # never between a base and what joins it, nor after a joiner, nor inside a flag pair
        while cut > 1 and (_joins_previous(text[cut]) or text[cut - 1] == "\u200d" or _inside_flag(text, cut)):
            cut -= 1
        for separator in ("\n", " "):
            at = text.rfind(separator, 0, cut)
            if at >= cut // 2:
                cut = at + 1
                break
        cut = max(cut, 1)
        parts.append(text[:cut])
        text = text[cut:]
    if text or not parts:
        parts.append(text)
    return parts


def _inside_flag(text, cut):
    """Whether ``cut`` falls between the two regional indicators of one flag."""

    def regional(char):
        return 0x1F1E6 <= ord(char) <= 0x1F1FF

    if not (regional(text[cut - 1]) and regional(text[cut])):
        return False
    run = 0
    for char in reversed(text[:cut]):
        if not regional(char):
            break
        run += 1
    return run % 2 == 1


# ------------------------------------------------------------ reading updates
def telegram_id(value):
    """A Telegram id as exact decimal text (ints over 2^32 and negative group ids included), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and len(str(abs(value))) <= MAX_ID_DIGITS:
        return str(value)
    if isinstance(value, str) and value.lstrip("-").isdigit() and value.isascii() and len(value) <= MAX_ID_DIGITS:
        return str(int(value))
    return None


def read_date(value):
    """A naive UTC datetime from a unix time, or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def update_id(update):
    """The update's ``update_id`` as text, or None when it has none usable."""
    return telegram_id(update.get("update_id")) if isinstance(update, dict) else None


def _text(value):
    return value if isinstance(value, str) else None


def storable(value, max_chars=None):
    """Whether ``value`` is text a database can keep as a key or name: no NUL character, no
    unpaired surrogate, at most ``max_chars`` characters."""
    if not isinstance(value, str) or "\x00" in value or (max_chars and len(value) > max_chars):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _key(value, max_chars=255):
    """``value`` when it is a usable key (a file_id, a query id), else None."""
    return value if storable(value, max_chars) and value.strip() else None


def _dict(value):
    return value if isinstance(value, dict) else {}


def person_name(user):
    user = _dict(user)
    name = " ".join(part for part in (_text(user.get("first_name")), _text(user.get("last_name"))) if part)
    return name.strip() or (_text(user.get("username")) or "").strip() or None


def with_links(text, entities):
    """``text`` with the hidden URLs of its ``text_link`` entities written after their words.

    Entity offsets and lengths count UTF-16 code units; odd entities are skipped.
    """
    if not isinstance(entities, list) or not text:
        return text
    units = text.encode("utf-16-le", "surrogatepass")
    links = []
    for entity in entities:
        entity = _dict(entity)
        offset, length, url = entity.get("offset"), entity.get("length"), _text(entity.get("url"))
        if (
            entity.get("type") != "text_link"
            or not url
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (offset, length))
        ):
            continue
        end = offset + length
        if end * 2 <= len(units):
            links.append((end, url))
    if not links:
        return text
    pieces, start = [], 0
    for end, url in sorted(links):
        pieces.append(units[start * 2 : end * 2].decode("utf-16-le", "surrogatepass"))
        pieces.append(f" ({url})")
        start = end
    pieces.append(units[start * 2 :].decode("utf-16-le", "surrogatepass"))
    return "".join(pieces)


def start_payload(text, entities):
    """The deep-link payload of ``/start <payload>`` (``t.me/<bot>?start=<payload>``), "" for a
    bare /start, None when the message is not /start."""
    if not text or not text.startswith("/start"):
        return None
    command, _sep, rest = text.partition(" ")
    if command != "/start" and not command.startswith("/start@"):
        return None
    return rest.strip()


def _media(message, kind):
    """{"file_id", "file_unique_id", "kind", "mime_type", "file_name"} of a message's file, or None."""
    content = message.get(kind)
    if kind == "photo":  # sizes of one photo, the largest last; pick the largest by area anyway
        sizes = [size for size in content if isinstance(size, dict)] if isinstance(content, list) else []
        sizes = [size for size in sizes if _key(size.get("file_id"))]
        if not sizes:
            return None

        def area(size):
            width, height = size.get("width"), size.get("height")
            if isinstance(width, int) and isinstance(height, int):
                return width * height
            return 0

        content = max(enumerate(sizes), key=lambda pair: (area(pair[1]), pair[0]))[1]
    content = _dict(content)
    file_id = _key(content.get("file_id"))
    if not file_id:
        return None
    mime_type = _key(content.get("mime_type"), 100)
    if kind == "sticker":
        mime_type = (
            "application/x-tgsticker"
            if content.get("is_animated") is True
            else "video/webm"
            if content.get("is_video") is True
            else "image/webp"
        )
    unique = _key(content.get("file_unique_id"), 64) or file_id
    name = _key(content.get("file_name"))
    if not name:
        extension = EXTENSIONS.get(kind) or {"image/webp": ".webp", "video/webm": ".webm"}.get(mime_type, "")
        name = f"{kind}-{unique[:64]}{extension}"
    return {
        "file_id": file_id,
        "file_unique_id": unique,
        "kind": kind,
        "mime_type": mime_type or DEFAULT_MIMETYPES.get(kind),
        "file_name": name,
    }


def location_text(location, venue=None):
    """A venue or location as text: its name and address, and a map link."""
    location = _dict(location)
    latitude, longitude = location.get("latitude"), location.get("longitude")
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in (latitude, longitude)):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    venue = _dict(venue)
    label = ", ".join(part for part in (_text(venue.get("title")), _text(venue.get("address"))) if part)
    link = f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}"
    return f"📍 {label or f'{latitude}, {longitude}'}\n{link}"


def _contact(message, sender_id):
    contact = _dict(message.get("contact"))
    phone = _text(contact.get("phone_number"))
    name = person_name(contact)
    text = ", ".join(part for part in (name, phone) if part) or None
    own = None
    if phone and telegram_id(contact.get("user_id")) is not None and telegram_id(contact.get("user_id")) == sender_id:
        # The user's own account number, which Telegram sends in international form, "+" or not.
        digits = phone.strip().lstrip("+")
        own = f"+{digits}" if digits.isdigit() and 6 <= len(digits) <= 15 else None
    return text, own


def _chat(value):
    chat = _dict(value)
    chat_id = telegram_id(chat.get("id"))
    if chat_id is None:
        raise PayloadError("chat.id is not a Telegram id")
    return {
        "id": chat_id,
        "type": _text(chat.get("type")) or "private",
        "title": _text(chat.get("title")) or person_name(chat),
    }


def _user(value):
    user = _dict(value)
    return {"id": telegram_id(user.get("id")), "name": person_name(user), "is_bot": user.get("is_bot") is True}


def read_message(message, key):
    """One ``Message`` (``key``: message or edited_message): an item, or None for what a
    customer did not write (service messages such as a member joining)."""
    if not isinstance(message, dict):
        raise PayloadError(f"{key} is not an object")
    chat = _chat(message.get("chat"))
    message_id = telegram_id(message.get("message_id"))
    if message_id is None:
        raise PayloadError(f"{key}.message_id is not a Telegram id")
    date = read_date(message.get("edit_date") if key == "edited_message" else message.get("date"))
    if date is None and key == "edited_message":
        date = read_date(message.get("date"))
    if date is None:
        raise PayloadError(f"{key}.date is not a unix time")
    sender = _user(message.get("from")) if isinstance(message.get("from"), dict) else {"id": None, "name": None}
    text = _text(message.get("text"))
    entities = message.get("entities")
    if text is None:
        text, entities = _text(message.get("caption")), message.get("caption_entities")
    body = with_links(text, entities)
    message_type = "text" if _text(message.get("text")) is not None else None
    media = None
    for kind in MEDIA_TYPES:
        if kind in message:
            message_type = kind
            media = _media(message, kind)
            break
    own_phone = None
    if message_type is None:
        for kind in ("location", "contact", "poll", "dice", "game", "invoice", "story"):
            if kind in message:
                message_type = kind
                break
    if message_type == "location" or "venue" in message:
        message_type = "location"
        body = location_text(
            _dict(message.get("venue")).get("location") or message.get("location"), message.get("venue")
        )
    elif message_type == "contact":
        body, own_phone = _contact(message, sender["id"])
    elif message_type == "dice":
        dice = _dict(message.get("dice"))
        body = f"{_text(dice.get('emoji')) or '🎲'} {dice.get('value')}"
    elif message_type is None:
        new_chat_id = telegram_id(message.get("migrate_to_chat_id"))
        if new_chat_id is not None and key == "message":
            # The group became a supergroup, under a new id: its conversation goes on there.
            return {"type": "migrate", "chat": chat, "new_chat_id": new_chat_id, "date": date}
        return None  # a service message: someone joined, the title changed, a pin…
    reply = _dict(message.get("reply_to_message"))
    reply_id = telegram_id(reply.get("message_id"))
    return {
        "type": "edit" if key == "edited_message" else "message",
        "chat": chat,
        "sender": sender,
        "message_id": message_id,
        "external_id": f"{chat['id']}:{message_id}",
        "date": date,
        "message_type": message_type,
        "body": body,
        "media": media,
        "reply_to": f"{chat['id']}:{reply_id}" if reply_id is not None else None,
        "start_payload": start_payload(text, entities) if message_type == "text" else None,
        "own_phone": own_phone,
        "forwarded": "forward_origin" in message or "forward_date" in message,
    }


def read_callback(query, update):
    """A button of an inline keyboard pressed: its ``data`` as what the customer said."""
    if not isinstance(query, dict):
        raise PayloadError("callback_query is not an object")
    sender = _user(query.get("from"))
    if sender["id"] is None:
        raise PayloadError("callback_query.from.id is not a Telegram id")
    query_id = _key(query.get("id"), 200)
    if not query_id:
        raise PayloadError("callback_query.id is missing or not an id")
    message = _dict(query.get("message"))
    chat = (
        _chat(message["chat"])
        if isinstance(message.get("chat"), dict)
        else {
            "id": sender["id"],
            "type": "private",
            "title": sender["name"],
        }
    )
    message_id = telegram_id(message.get("message_id"))
    data = _text(query.get("data")) or _text(query.get("game_short_name"))
    return {
        "type": "callback",
        "chat": chat,
        "sender": sender,
        "query_id": query_id,
        "external_id": f"callback:{query_id}",
        # the query has no date; the update arrives when the button is pressed
        "date": None,
        "body": data,
        "reply_to": f"{chat['id']}:{message_id}" if message_id is not None else None,
        "update_id": update_id(update),
    }


def read_member(member):
    """``my_chat_member``: the bot's own status in a chat changed (blocked, unblocked, added, removed)."""
    if not isinstance(member, dict):
        raise PayloadError("my_chat_member is not an object")
    chat = _chat(member.get("chat"))
    date = read_date(member.get("date"))
    if date is None:
        raise PayloadError("my_chat_member.date is not a unix time")
    status = _text(_dict(member.get("new_chat_member")).get("status"))
    if not status:
        raise PayloadError("my_chat_member.new_chat_member.status is missing")
    return {"type": "member", "chat": chat, "sender": _user(member.get("from")), "status": status, "date": date}


def parse_update(update):
    """The items of one webhook ``Update`` (a list of zero or one): message, edit, callback or
    member. Kinds of update the webhook does not ask for (channel posts, inline queries, polls…)
    give nothing. Raises :class:`PayloadError` when the update is not one."""
    if not isinstance(update, dict):
        raise PayloadError("the update is not a JSON object")
    if update_id(update) is None:
        raise PayloadError("update_id is missing or not an integer")
    if "message" in update:
        item = read_message(update["message"], "message")
    elif "edited_message" in update:
        item = read_message(update["edited_message"], "edited_message")
    elif "callback_query" in update:
        item = read_callback(update["callback_query"], update)
    elif "my_chat_member" in update:
        item = read_member(update["my_chat_member"])
    else:
        item = None
    return [item] if item else []
