"""The Telegram client against the local fake Bot API over real HTTP, and the pure parts of
tools/telegram.py (splitting, parsing). No database needed."""

import json
import time
from pathlib import Path

import pytest

from odoo.addons.omnichannel_social.tests.fake_telegram import FakeTelegram
from odoo.addons.omnichannel_social.tools.telegram import (
    PayloadError,
    TelegramClient,
    TelegramConnectionError,
    TelegramError,
    TelegramTimeout,
    parse_update,
    split_text,
    utf16_len,
)

TOKEN = "123456789:AAE-client-test-token"
CONTRACTS = Path(__file__).resolve().parent / "data" / "contracts"


@pytest.fixture
def telegram():
    with FakeTelegram(token=TOKEN) as telegram:
        yield telegram


@pytest.fixture
def client(telegram):
    return TelegramClient(telegram.url, TOKEN, timeout=(1, 2))


# ------------------------------------------------------------ client
def test_calls_and_answers(telegram, client):
    assert client.get_me()["username"] == "TiendaBilbaoBot"
    assert client.set_webhook("https://odoo.example.com/omnichannel/webhook/telegram/k", "s3cr3t_-") is True
    assert client.get_webhook_info()["url"] == "https://odoo.example.com/omnichannel/webhook/telegram/k"
    message = client.send_message(5123456789, "Hola")
    assert message["chat"]["id"] == 5123456789 and message["text"] == "Hola"
    photo = client.send_file("sendPhoto", "photo", -1001234567890, "a.png", b"\x89PNG", "image/png", caption="Mira")
    assert photo["caption"] == "Mira"
    assert telegram.sent[-1]["chat_id"] == "-1001234567890", "negative ids sent exactly, as form fields too"
    file_id = telegram.add_file(b"hello", "documents/hello.txt")
    assert client.download(client.get_file(file_id)["file_path"]) == b"hello"


def test_flood_control_carries_retry_after(telegram, client):
    telegram.inject("sendMessage", status=429, retry_after=12)
    with pytest.raises(TelegramError) as info:
        client.send_message(1, "x")
    error = info.value
    assert (error.status, error.error_code, error.retry_after, error.transient) == (429, 429, 12, True)
    assert str(error) == "sendMessage: Too Many Requests: retry after 12"
    # the contract's body is what the fake answers
    assert json.loads((CONTRACTS / "telegram_error_429.json").read_text())["parameters"] == {"retry_after": 5}


def test_server_errors_are_transient_client_errors_are_not(telegram, client):
    telegram.inject("sendMessage", status=502)
    telegram.inject("sendMessage", status=502, body="<html>Bad Gateway</html>")
    for _ in range(2):
        with pytest.raises(TelegramError) as info:
            client.send_message(1, "x")
        assert info.value.transient
    with pytest.raises(TelegramError) as info:
        client.send_message(1, "")
    assert (info.value.error_code, info.value.transient) == (400, False)
    assert "message text is empty" in str(info.value)
    telegram.blocked.add("7")
    with pytest.raises(TelegramError) as info:
        client.send_message(7, "x")
    assert info.value.blocked and not info.value.transient


def test_timeout_is_transient_and_token_never_shows(telegram):
    client = TelegramClient(telegram.url, TOKEN, timeout=(1, 0.3))
    telegram.inject("sendMessage", delay=3)
    started = time.monotonic()
    with pytest.raises(TelegramTimeout) as info:
        client.send_message(1, "x")
    assert time.monotonic() - started < 2
    assert info.value.transient and TOKEN not in str(info.value)
    with pytest.raises(TelegramError) as info:
        TelegramClient(telegram.url, "999:wrong", timeout=(1, 2)).get_me()
    assert info.value.error_code == 401 and "999:wrong" not in str(info.value)


def test_unreachable_is_transient():
    with pytest.raises(TelegramConnectionError) as info:
        TelegramClient("http://127.0.0.1:9", TOKEN, timeout=(0.5, 0.5)).get_me()
    assert info.value.transient and TOKEN not in str(info.value)


def test_too_long_text_is_refused_by_the_fake(client):
    with pytest.raises(TelegramError, match="message is too long"):
        client.send_message(1, "😀" * 2049)  # 4,098 UTF-16 code units
    assert client.send_message(1, "😀" * 2048)


# ------------------------------------------------------------ splitting
@pytest.mark.parametrize(
    "text",
    [
        "a" * 4096,
        "a" * 4097,
        "😀" * 5000,
        "a" + "😀" * 5000,
        "👨‍👩‍👧‍👦" * 1000,
        "🇪🇸🇫🇷" * 2000,
        "a" + "🇪🇸" * 2000,
        "e\u0301" * 5000,
        "👍🏽" * 3000,
        ("palabra " * 1000) + "\n" + ("x" * 5000),
    ],
)
def test_split_never_cuts_inside_a_character_or_emoji(text):
    parts = split_text(text)
    assert "".join(parts) == text
    assert all(0 < utf16_len(part) <= 4096 for part in parts)
    for before, after in zip(parts, parts[1:], strict=False):
        assert not after.startswith(("\u200d", "\u0301", "\U0001f3fd")), (before[-3:], after[:3])
        assert not before.endswith("\u200d")
        if before.endswith(("\U0001f1ea", "\U0001f1f8", "\U0001f1eb", "\U0001f1f7")):
            flags = before[-8:]
            assert sum(0x1F1E6 <= ord(c) <= 0x1F1FF for c in flags) % 2 == 0 or len(before) < 8


def test_split_prefers_line_breaks_and_spaces():
    text = "Primera línea\n" + "palabra " * 600
    parts = split_text(text)
    assert all(part.endswith((" ", "\n")) for part in parts[:-1])
    assert split_text("") == [""]


# ------------------------------------------------------------ parsing
def test_parse_documented_updates():
    text = parse_update(json.loads((CONTRACTS / "telegram_message_text.json").read_text()))[0]
    assert text["external_id"] == "5123456789:512" and text["chat"]["type"] == "private"
    assert text["body"].endswith("Mirad esta (https://tienda.example.com/chaqueta)")
    photo = parse_update(json.loads((CONTRACTS / "telegram_message_photo.json").read_text()))[0]
    assert photo["media"]["file_id"] == "AgACAgQAAxkBAAIBlarge"
    assert photo["body"] == "Esta es la talla que busco"
    callback = parse_update(json.loads((CONTRACTS / "telegram_callback_query.json").read_text()))[0]
    assert (callback["body"], callback["reply_to"]) == ("confirm_order_42", "5123456789:1001")
    member = parse_update(json.loads((CONTRACTS / "telegram_my_chat_member_kicked.json").read_text()))[0]
    assert member["status"] == "kicked" and member["chat"]["id"] == "5123456789"


def test_parse_keeps_ids_exactly():
    big = 2**52 - 1
    update = {
        "update_id": 2**40,
        "message": {
            "message_id": 3,
            "from": {"id": big, "first_name": "A"},
            "chat": {"id": -1009999999999, "type": "supergroup", "title": "G"},
            "date": 1767225600,
            "text": "/start@TiendaBilbaoBot campaign_42",
        },
    }
    item = parse_update(update)[0]
    assert item["sender"]["id"] == str(big)
    assert item["external_id"] == "-1009999999999:3"
    assert item["start_payload"] == "campaign_42"


def test_parse_entities_count_utf16():
    text = "😀 ver aquí"
    entities = [{"type": "text_link", "offset": 3, "length": 8, "url": "https://x.example"}]
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "date": 1,
                                          "text": text, "entities": entities}}  # fmt: skip
    assert parse_update(update)[0]["body"] == "😀 ver aquí (https://x.example)"


@pytest.mark.parametrize(
    "update",
    [[], "x", {}, {"update_id": "x"}, {"update_id": True}, {"update_id": 1, "message": []},
     {"update_id": 1, "message": {"chat": {"id": 1}, "date": 1}},
     {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1.5}, "date": 1}},
     {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": "yesterday", "text": "x"}}],
)  # fmt: skip
def test_parse_refuses_what_is_not_an_update(update):
    with pytest.raises(PayloadError):
        parse_update(update)


def test_parse_ignores_what_it_does_not_ask_for():
    assert parse_update({"update_id": 1, "channel_post": {"message_id": 1}}) == []
    service = {"message_id": 1, "chat": {"id": 1, "type": "group"}, "date": 1, "new_chat_members": [{"id": 2}]}
    assert parse_update({"update_id": 1, "message": service}) == []
