"""Database-free tests of the WhatsApp Cloud API webhook reader (``tools/whatsapp.py``).

Every payload is shaped as Meta's "messages webhook reference" and "user_preferences webhook
reference" show it (envelope, key names, value types, example values), starting from the
contract examples in tests/data/contracts (copied verbatim below).
"""

import copy
import datetime
import json

import pytest

from odoo.addons.omnichannel_social.tools.whatsapp import PayloadError, parse_delivery, wa_id_phones

WABA_ID = "102290129340398"
METADATA = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}
SHEENA = {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
CONTEXT_WAMID = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
TIMESTAMP = "1739321024"
WHEN = datetime.datetime(2025, 2, 12, 0, 43, 44)

CONTRACT_TEXT = json.loads("""
{"object": "whatsapp_business_account",
 "entry": [{"id": "102290129340398",
   "changes": [{"field": "messages",
     "value": {"messaging_product": "whatsapp",
       "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
       "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
       "messages": [{"from": "16505551234", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
         "timestamp": "1749416383", "type": "text", "text": {"body": "Does it come in another color?"}}]}}]}]}
""")
CONTRACT_IMAGE = json.loads("""
{"object": "whatsapp_business_account",
 "entry": [{"id": "102290129340398",
   "changes": [{"field": "messages",
     "value": {"messaging_product": "whatsapp",
       "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
       "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
       "messages": [{"from": "16505551234", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUIyMjdBQjc0Q0IxNTRGNjg3OQA=",
         "timestamp": "1749416403", "type": "image",
         "image": {"caption": "This one", "mime_type": "image/jpeg",
           "sha256": "5b7rvVxUKCj8aX2vM3m3cYNhm3Tn0Z6s7fR4bS1j9vI=", "id": "1003383421387256"}}]}}]}]}
""")
CONTRACT_STATUS = json.loads("""
{"object": "whatsapp_business_account",
 "entry": [{"id": "102290129340398",
   "changes": [{"field": "messages",
     "value": {"messaging_product": "whatsapp",
       "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
       "statuses": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NDk5QjY1RUQzRTk1OTFBRTcA",
         "status": "read", "timestamp": "1749416500", "recipient_id": "16505551234",
         "conversation": {"id": "CONVERSATION_ID", "origin": {"type": "service"}},
         "pricing": {"billable": true, "pricing_model": "PMP", "category": "service"}}]}}]}]}
""")


def delivery(*values, field="messages"):
    """Meta's envelope around one or more change values, as every reference page shows it."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [{"value": value, "field": field} for value in values],
            }
        ],
    }


def inbound(message_type, content, contacts=(SHEENA,), **extra):
    """A messages webhook for one inbound message of ``message_type`` (Meta's syntax)."""
    message = {"from": "16505551234", "id": WAMID, "timestamp": TIMESTAMP, "type": message_type, **extra}
    if content is not None:
        message[message_type] = content
    value = {"messaging_product": "whatsapp", "metadata": dict(METADATA), "messages": [message]}
    if contacts is not None:
        value["contacts"] = [copy.deepcopy(contact) for contact in contacts]
    return delivery(value)


def only(payload):
    items = parse_delivery(payload)
    assert len(items) == 1, items
    return items[0]


# ---------------------------------------------------------------------------------------------
# the contract examples


def test_contract_text():
    assert parse_delivery(CONTRACT_TEXT) == [
        {
            "type": "message",
            "phone_number_id": "106540352242922",
            "display_phone_number": "15550783881",
            "external_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "date": datetime.datetime(2025, 6, 8, 20, 59, 43),
            "wa_id": "16505551234",
            "user_id": None,
            "name": "Sheena Nelson",
            "message_type": "text",
            "body": "Does it come in another color?",
            "media": None,
            "reply_to": None,
            "forwarded": False,
            "reaction": None,
            "number_change": None,
            "unsupported": None,
            "referral": None,
            "reply_id": None,
            "referred_product": None,
            "errors": [],
        }
    ]


def test_contract_image():
    item = only(CONTRACT_IMAGE)
    assert item["message_type"] == "image"
    assert item["body"] == "This one"
    assert item["date"] == datetime.datetime(2025, 6, 8, 21, 0, 3)
    assert item["media"] == {
        "id": "1003383421387256",
        "mime_type": "image/jpeg",
        "filename": None,
        "caption": "This one",
        "sha256": "5b7rvVxUKCj8aX2vM3m3cYNhm3Tn0Z6s7fR4bS1j9vI=",
        "url": None,
        "voice": False,
        "animated": False,
    }


def test_contract_status():
    assert parse_delivery(CONTRACT_STATUS) == [
        {
            "type": "status",
            "phone_number_id": "106540352242922",
            "external_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NDk5QjY1RUQzRTk1OTFBRTcA",
            "state": "read",
            "date": datetime.datetime(2025, 6, 8, 21, 1, 40),
            "recipient": "16505551234",
            "user_id": None,
            "errors": [],
            "callback_data": None,
        }
    ]


# ---------------------------------------------------------------------------------------------
# one test per message type


def test_document_keeps_its_filename():
    item = only(
        inbound(
            "document",
            {
                "caption": "Lucky Shrub Invoice",
                "filename": "lucky-shrub-invoice.pdf",
                "mime_type": "application/pdf",
                "sha256": "8ed4b5f7a3b8f9c1e2d3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
                "id": "1003383421387256",
                "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256",
            },
        )
    )
    assert item["message_type"] == "document"
    assert item["body"] == "Lucky Shrub Invoice"
    assert item["media"]["filename"] == "lucky-shrub-invoice.pdf"
    assert item["media"]["mime_type"] == "application/pdf"
    assert item["media"]["url"].startswith("https://lookaside.fbsbx.com/")


@pytest.mark.parametrize("voice", [True, False])
def test_audio_voice_flag(voice):
    item = only(
        inbound(
            "audio",
            {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "5b7rvVxUKCj8aX2vM3m3cYNhm3Tn0Z6s7fR4bS1j9vI=",
                "id": "1003383421387256",
                "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256",
                "voice": voice,
            },
        )
    )
    assert item["body"] is None
    assert item["media"]["voice"] is voice
    assert item["media"]["mime_type"] == "audio/ogg; codecs=opus"


def test_video_with_caption():
    item = only(
        inbound(
            "video",
            {
                "caption": "Here it is",
                "mime_type": "video/mp4",
                "sha256": "5b7rvVxUKCj8aX2vM3m3cYNhm3Tn0Z6s7fR4bS1j9vI=",
                "id": "1003383421387257",
            },
        )
    )
    assert (item["message_type"], item["body"], item["media"]["id"]) == ("video", "Here it is", "1003383421387257")


def test_animated_sticker():
    item = only(
        inbound(
            "sticker",
            {
                "mime_type": "image/webp",
                "sha256": "Twg5CZJCqO4mQVyyTFAoUy67ghrhEcmMyqa3ZNEaSN3nzJ0=",
                "id": "1034563223453232",
                "animated": True,
            },
        )
    )
    assert item["media"]["animated"] is True
    assert item["media"]["voice"] is False
    assert item["body"] is None


def test_location_with_name_address_and_url():
    item = only(
        inbound(
            "location",
            {
                "address": "101 Forest Ave, Palo Alto, CA 94301",
                "latitude": 37.44221496582,
                "longitude": -122.16138458252,
                "name": "Philz Coffee",
                "url": "https://www.philzcoffee.com/",
            },
        )
    )
    assert item["body"] == (
        "📍 Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301\n"
        "https://www.openstreetmap.org/?mlat=37.442215&mlon=-122.161385#map=17/37.442215/-122.161385\n"
        "https://www.philzcoffee.com/"
    )


def test_location_pin_only_and_bad_coordinates():
    pin = only(inbound("location", {"latitude": 40.4168, "longitude": -3.7038}))
    assert pin["body"] == (
        "📍 40.4168, -3.7038\nhttps://www.openstreetmap.org/?mlat=40.4168&mlon=-3.7038#map=17/40.4168/-3.7038"
    )
    # A latitude beyond the pole gives no map link, but the place the customer named is kept.
    wrong = only(inbound("location", {"latitude": 123.0, "longitude": 2.0, "name": "Sagrada Família"}))
    assert wrong["body"] == "📍 Sagrada Família"


def test_contacts_one_line_each():
    cards = [
        {
            "addresses": [
                {
                    "city": "Menlo Park",
                    "country": "United States",
                    "country_code": "US",
                    "state": "CA",
                    "street": "1 Lucky Shrub Way",
                    "type": "WORK",
                    "zip": "94025",
                }
            ],
            "birthday": "1999-01-23",
            "emails": [{"email": "kfisher@luckyshrub.com", "type": "WORK"}],
            "name": {
                "formatted_name": "Kerry Fisher",
                "first_name": "Kerry",
                "last_name": "Fisher",
            },
            "org": {"company": "Lucky Shrub", "department": "Sales", "title": "Manager"},
            "phones": [
                {"phone": "+1 (650) 555-1234", "wa_id": "16505551234", "type": "WORK"},
                {"wa_id": "34612345678", "type": "CELL"},
            ],
            "urls": [{"url": "https://www.luckyshrub.com", "type": "WORK"}],
        },
        {"name": {"first_name": "Ana", "last_name": "García"}, "phones": [{"phone": "+34 612 34 56 78"}]},
    ]
    item = only(
        delivery(
            {
                "messaging_product": "whatsapp",
                "metadata": dict(METADATA),
                "contacts": [SHEENA],
                "messages": [
                    {"from": "16505551234", "id": WAMID, "timestamp": TIMESTAMP, "type": "contacts", "contacts": cards}
                ],
            }
        )
    )
    assert item["message_type"] == "contacts"
    assert item["name"] == "Sheena Nelson", "the sender's name, not the shared card's"
    assert item["body"] == (
        "Kerry Fisher (Lucky Shrub), +1 (650) 555-1234, +34612345678, kfisher@luckyshrub.com\n"
        "Ana García, +34 612 34 56 78"
    )


def test_reaction_and_its_removal():
    added = only(inbound("reaction", {"message_id": CONTEXT_WAMID, "emoji": "\U0001f44d"}))
    assert added["reaction"] == {"message_id": CONTEXT_WAMID, "emoji": "👍"}
    assert added["body"] is None
    # "If the user removes their initial reaction, another webhook is triggered, but the emoji
    # property will be omitted from the payload."
    removed = only(inbound("reaction", {"message_id": CONTEXT_WAMID}))
    assert removed["reaction"] == {"message_id": CONTEXT_WAMID, "emoji": ""}
    assert only(inbound("reaction", {"message_id": CONTEXT_WAMID, "emoji": ""}))["reaction"]["emoji"] == ""


def test_interactive_button_reply():
    item = only(
        inbound(
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "cancel-button", "title": "Cancel"}},
            context={"from": "15550783881", "id": CONTEXT_WAMID},
        )
    )
    assert (item["body"], item["reply_id"], item["reply_to"]) == ("Cancel", "cancel-button", CONTEXT_WAMID)


def test_interactive_list_reply_with_description():
    item = only(
        inbound(
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {
                    "id": "priority-express",
                    "title": "Priority Mail Express",
                    "description": "Next Day to 2 Days",
                },
            },
            context={"from": "15550783881", "id": CONTEXT_WAMID},
        )
    )
    assert item["body"] == "Priority Mail Express\nNext Day to 2 Days"
    assert item["reply_id"] == "priority-express"


def test_interactive_flow_reply():
    response = {"flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "name": "Ana García", "date": "2026-12-01", "guests": 2}
    item = only(
        inbound(
            "interactive",
            {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response_json": json.dumps(response)}},
            context={"from": "15550783881", "id": CONTEXT_WAMID},
        )
    )
    assert item["body"] == "name: Ana García\ndate: 2026-12-01\nguests: 2"
    assert item["unsupported"] is None


def test_unknown_interactive_reply_is_unsupported():
    item = only(inbound("interactive", {"type": "call_permission_reply", "call_permission_reply": {}}))
    assert item["unsupported"] == "call_permission_reply"
    assert item["body"] is None


def test_template_quick_reply_button():
    item = only(
        inbound(
            "button",
            {"payload": "UNSUBSCRIBE_PAYLOAD", "text": "Unsubscribe"},
            context={"from": "15550783881", "id": CONTEXT_WAMID},
        )
    )
    assert (item["body"], item["reply_id"], item["reply_to"]) == ("Unsubscribe", "UNSUBSCRIBE_PAYLOAD", CONTEXT_WAMID)


def test_order_lists_its_products():
    item = only(
        inbound(
            "order",
            {
                "catalog_id": "194836987003835",
                "text": "Love these!",
                "product_items": [
                    {"product_retailer_id": "di9ozbzfi4", "quantity": 2, "item_price": 7.99, "currency": "USD"},
                    {"product_retailer_id": "nqryix03ez", "quantity": 1, "item_price": 5.0, "currency": "USD"},
                ],
            },
        )
    )
    assert item["body"] == "Love these!\n2 × di9ozbzfi4 — 7.99 USD\n1 × nqryix03ez — 5 USD"


def test_user_changed_number():
    item = only(
        inbound(
            "system",
            {
                "body": "User Sheena Nelson changed from 16505551234 to 12195555358",
                "wa_id": "12195555358",
                "type": "user_changed_number",
            },
            contacts=None,  # "system messages webhooks don't include a contacts array"
        )
    )
    assert item["number_change"] == {"old_wa_id": "16505551234", "new_wa_id": "12195555358"}
    assert item["wa_id"] == "16505551234"
    assert item["name"] is None
    assert item["body"] is None, "Meta's English system text is not shown; the Odoo side writes its own note"


def test_legacy_customer_changed_number():
    """Cloud API webhooks v11 and earlier: ``new_wa_id`` and ``customer`` (the old id)."""
    item = only(
        inbound(
            "system",
            {
                "body": "User A changed from 5215512345678 to 5215587654321",
                "customer": "5215512345678",
                "new_wa_id": "5215587654321",
                "type": "customer_changed_number",
            },
            contacts=None,
        )
    )
    assert item["number_change"] == {"old_wa_id": "5215512345678", "new_wa_id": "5215587654321"}


def test_other_system_messages_are_unsupported():
    item = only(inbound("system", {"body": "Sheena's security code changed", "type": "customer_identity_changed"}))
    assert (item["unsupported"], item["number_change"]) == ("customer_identity_changed", None)


def test_unsupported_message():
    item = only(
        inbound(
            "unsupported",
            {"type": "poll_update"},
            errors=[
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."},
                }
            ],
        )
    )
    assert item["unsupported"] == "poll_update"
    assert item["errors"] == [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "details": "Message type is currently not supported.",
        }
    ]


def test_unavailable_message_names_the_error():
    item = only(
        inbound(
            "unsupported",
            None,
            errors=[
                {
                    "code": 131060,
                    "title": "This message is currently unavailable.",
                    "message": "This message is currently unavailable.",
                    "error_data": {"details": "Please check the WhatsApp Business app."},
                }
            ],
        )
    )
    assert item["unsupported"] == "This message is currently unavailable."


@pytest.mark.parametrize("message_type", ["unknown", "hologram", "poll", "request_welcome"])
def test_unknown_type_is_an_unsupported_item_not_an_exception(message_type):
    item = only(inbound(message_type, {"whatever": ["Meta", "adds"]}))
    assert item["message_type"] == message_type
    assert item["unsupported"] == message_type
    assert (item["body"], item["media"]) == (None, None)


# ---------------------------------------------------------------------------------------------
# context and referral


def test_reply_context():
    item = only(inbound("text", {"body": "Yes"}, context={"from": "15550783881", "id": CONTEXT_WAMID}))
    assert (item["reply_to"], item["forwarded"]) == (CONTEXT_WAMID, False)


@pytest.mark.parametrize("flag", ["forwarded", "frequently_forwarded"])
def test_forwarded(flag):
    item = only(inbound("text", {"body": "Look at this"}, context={flag: True}))
    assert item["forwarded"] is True
    assert item["reply_to"] is None


def test_question_about_a_product():
    item = only(
        inbound(
            "text",
            {"body": "Is this in stock?"},
            context={
                "from": "15550783881",
                "id": CONTEXT_WAMID,
                "referred_product": {"catalog_id": "194836987003835", "product_retailer_id": "di9ozbzfi4"},
            },
        )
    )
    assert item["referred_product"] == {"catalog_id": "194836987003835", "product_retailer_id": "di9ozbzfi4"}


def test_click_to_whatsapp_referral():
    referral = {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": "120226305854810726",
        "source_type": "ad",
        "body": "Summer succulents are here!",
        "headline": "Chat with us",
        "media_type": "image",
        "image_url": "https://scontent.xx.fbcdn.net/v/t45.1-0/abc.jpg",
        "ctwa_clid": "Aff-n8ZTODiE79d22KtAwQKj9e_mIEOOj27vDVwFjN80dp4_0NiNhEgpGo0AHemvuSoifXaytfTzcchptiE",
        "welcome_message": {"text": "Hi there! Let us know how we can help!"},
    }
    item = only(inbound("text", {"body": "Can I get more info?"}, referral=referral))
    assert item["referral"] == {
        **{key: value for key, value in referral.items() if key != "welcome_message"},
        "video_url": None,
        "thumbnail_url": None,
        "welcome_message": "Hi there! Let us know how we can help!",
    }


# ---------------------------------------------------------------------------------------------
# statuses, errors, preferences


def statuses(*entries):
    return delivery({"messaging_product": "whatsapp", "metadata": dict(METADATA), "statuses": list(entries)})


def test_sent_status_with_pricing_and_callback_data():
    item = only(
        statuses(
            {
                "id": WAMID,
                "status": "sent",
                "timestamp": TIMESTAMP,
                "recipient_id": "16505551234",
                "biz_opaque_callback_data": "order:1042",
                "conversation": {
                    "id": "6ceb9d929c0bd5b6a5f3c2f2b4e1a0d9",
                    "expiration_timestamp": "1739407424",
                    "origin": {"type": "utility"},
                },
                "pricing": {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"},
            }
        )
    )
    assert (item["state"], item["date"], item["callback_data"]) == ("sent", WHEN, "order:1042")


def test_failed_status_errors():
    item = only(
        statuses(
            {
                "id": WAMID,
                "status": "failed",
                "timestamp": TIMESTAMP,
                "recipient_id": "16505551234",
                "errors": [
                    {
                        "code": 131049,
                        "title": "This message was not delivered to maintain healthy ecosystem engagement.",
                        "message": "This message was not delivered to maintain healthy ecosystem engagement.",
                        "error_data": {"details": "In order to maintain a healthy ecosystem engagement, ..."},
                        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                    }
                ],
            }
        )
    )
    assert item["state"] == "failed"
    assert item["errors"] == [
        {
            "code": 131049,
            "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            "message": "This message was not delivered to maintain healthy ecosystem engagement.",
            "details": "In order to maintain a healthy ecosystem engagement, ...",
        }
    ]


def test_played_is_read_and_unknown_status_values_are_ignored():
    base = {"id": WAMID, "timestamp": TIMESTAMP, "recipient_id": "16505551234"}
    items = parse_delivery(
        statuses({**base, "status": "delivered"}, {**base, "status": "played"}, {**base, "status": "deleted"})
    )
    assert [item["state"] for item in items] == ["delivered", "read"]


def test_value_level_errors():
    payload = delivery(
        {
            "messaging_product": "whatsapp",
            "metadata": dict(METADATA),
            "errors": [
                {
                    "code": 130429,
                    "title": "Rate limit hit",
                    "message": "Rate limit hit",
                    "error_data": {
                        "details": "Message failed to send because there were too many messages sent from this "
                        "phone number in a short period of time"
                    },
                    "href": "/documentation/business-messaging/whatsapp/support/error-codes",
                }
            ],
        }
    )
    assert parse_delivery(payload) == [
        {
            "type": "error",
            "phone_number_id": "106540352242922",
            "errors": [
                {
                    "code": 130429,
                    "title": "Rate limit hit",
                    "message": "Rate limit hit",
                    "details": "Message failed to send because there were too many messages sent from this phone "
                    "number in a short period of time",
                }
            ],
        }
    ]


@pytest.mark.parametrize(
    "value, detail",
    [("stop", "User requested to stop marketing messages"), ("resume", "User requested to resume marketing messages")],
)
def test_user_preferences(value, detail):
    payload = delivery(
        {
            "messaging_product": "whatsapp",
            "metadata": dict(METADATA),
            "contacts": [{"wa_id": "16505551234"}],
            "user_preferences": [
                {
                    "wa_id": "16505551234",
                    "detail": detail,
                    "category": "marketing_messages",
                    "value": value,
                    "timestamp": 1731705721,  # an integer here, unlike messages and statuses
                }
            ],
        },
        field="user_preferences",
    )
    assert parse_delivery(payload) == [
        {
            "type": "preference",
            "phone_number_id": "106540352242922",
            "wa_id": "16505551234",
            "user_id": None,
            "value": value,
            "category": "marketing_messages",
            "date": datetime.datetime(2024, 11, 15, 21, 22, 1),
            "detail": detail,
        }
    ]


# ---------------------------------------------------------------------------------------------
# whole deliveries


def test_several_entries_changes_and_phone_numbers_in_payload_order():
    other_number = {"display_phone_number": "34910000000", "phone_number_id": "209876543210987"}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": dict(METADATA),
                            "contacts": [SHEENA, {"profile": {"name": "Ana García"}, "wa_id": "34612345678"}],
                            "messages": [
                                {"from": "16505551234", "id": "wamid.A", "timestamp": "1739321024", "type": "text",
                                 "text": {"body": "first"}},
                                {"from": "34612345678", "id": "wamid.B", "timestamp": "1739321025", "type": "text",
                                 "text": {"body": "second"}},
                            ],
                        },
                    },
                    {"field": "account_update", "value": {"phone_number": "15550783881", "event": "VERIFIED_ACCOUNT"}},
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": other_number,
                            "statuses": [
                                {"id": "wamid.C", "status": "delivered", "timestamp": "1739321026",
                                 "recipient_id": "34612345678"}
                            ],
                        },
                    },
                ],
            },
            {
                "id": "987654321098765",
                "changes": [
                    {
                        "field": "user_preferences",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": other_number,
                            "user_preferences": [
                                {"wa_id": "34612345678", "detail": "User requested to stop marketing messages",
                                 "category": "marketing_messages", "value": "stop", "timestamp": 1739321027}
                            ],
                        },
                    }
                ],
            },
        ],
    }  # fmt: skip
    items = parse_delivery(payload)
    assert [(item["type"], item["phone_number_id"], item.get("external_id")) for item in items] == [
        ("message", "106540352242922", "wamid.A"),
        ("message", "106540352242922", "wamid.B"),
        ("status", "209876543210987", "wamid.C"),
        ("preference", "209876543210987", None),
    ]
    assert [items[0]["name"], items[1]["name"]] == ["Sheena Nelson", "Ana García"], "names matched by wa_id"
    assert [item["date"].second for item in items] == [44, 45, 46, 47]


def test_unknown_fields_are_ignored():
    payload = copy.deepcopy(CONTRACT_TEXT)
    payload["hub_extra"] = {"future": True}
    payload["entry"][0]["time"] = 1739321024
    change = payload["entry"][0]["changes"][0]
    change["future_key"] = [1, 2]
    value = change["value"]
    value["metadata"]["business_username"] = "luckyshrub"
    value["contacts"][0]["identity_key_hash"] = "DF2lS5v2W6x="
    value["contacts"][0]["profile"]["username"] = "@sheena"
    value["messages"][0]["text"]["preview_url"] = False
    value["messages"][0]["new_thing"] = {"a": "b"}
    value["statuses_v2"] = "???"
    assert parse_delivery(payload) == parse_delivery(CONTRACT_TEXT)


def test_ignored_fields_give_no_items():
    payload = delivery({"message_template_id": 123, "event": "APPROVED"}, field="message_template_status_update")
    assert parse_delivery(payload) == []


def test_business_scoped_user_id_is_kept():
    payload = inbound(
        "text",
        {"body": "hola"},
        contacts=({"profile": {"name": "Sheena Nelson", "username": "@sheena"}, "wa_id": "16505551234",
                   "user_id": "US.13491208655302741918"},),
        from_user_id="US.13491208655302741918",
    )  # fmt: skip
    assert only(payload)["user_id"] == "US.13491208655302741918"


def bad(path_value_pairs):
    """CONTRACT_TEXT with the given parts replaced (a path is a tuple of keys/indexes)."""
    payload = copy.deepcopy(CONTRACT_TEXT)
    for path, replacement in path_value_pairs:
        target = payload
        for key in path[:-1]:
            target = target[key]
        if replacement is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = replacement
    return payload


MESSAGE = ("entry", 0, "changes", 0, "value", "messages", 0)


@pytest.mark.parametrize(
    "payload, reason",
    [
        (None, "the delivery is a JSON null, not an object"),
        ([CONTRACT_TEXT], "the delivery is a JSON array, not an object"),
        ("{}", "the delivery is a JSON string, not an object"),
        ({"object": "page", "entry": []}, "object is 'page', not 'whatsapp_business_account'"),
        ({"entry": []}, "object is None, not 'whatsapp_business_account'"),
        ({"object": "whatsapp_business_account"}, "entry is missing"),
        ({"object": "whatsapp_business_account", "entry": {"id": WABA_ID}}, "entry is not a list"),
        ({"object": "whatsapp_business_account", "entry": ["x"]}, "entry[0] is not an object"),
        (bad([(("entry", 0, "changes"), None)]), "entry[0].changes is not a list"),
        (bad([(("entry", 0, "changes", 0, "field"), KeyError)]), "entry[0].changes[0]: no field"),
        (bad([(("entry", 0, "changes", 0, "value"), [])]), "entry[0].changes[0].value is not an object"),
        (bad([(("entry", 0, "changes", 0, "value", "metadata"), KeyError)]), "entry[0].changes[0].value: no metadata"),
        (
            bad([(("entry", 0, "changes", 0, "value", "metadata", "phone_number_id"), "")]),
            "entry[0].changes[0].value.metadata: no phone_number_id",
        ),
        (
            bad([(("entry", 0, "changes", 0, "value", "messages"), {"id": "x"})]),
            "entry[0].changes[0].value.messages is not a list",
        ),
        (bad([(MESSAGE, "hello")]), "entry[0].changes[0].value.messages[0] is not an object"),
        (bad([(MESSAGE + ("id",), KeyError)]), "entry[0].changes[0].value.messages[0]: no id"),
        (bad([(MESSAGE + ("from",), KeyError)]), "entry[0].changes[0].value.messages[0]: no from"),
        (
            bad([(MESSAGE + ("from",), "+1 650 555")]),
            "entry[0].changes[0].value.messages[0].from: '+1 650 555' is not a WhatsApp id (6 to 15 digits)",
        ),
        (
            bad([(MESSAGE + ("from",), "1" * 16)]),
            "entry[0].changes[0].value.messages[0].from: '1111111111111111' is not a WhatsApp id (6 to 15 digits)",
        ),
        (bad([(MESSAGE + ("timestamp",), KeyError)]), "entry[0].changes[0].value.messages[0]: no timestamp"),
        (
            bad([(MESSAGE + ("timestamp",), "2025-06-08T20:59:43Z")]),
            "entry[0].changes[0].value.messages[0].timestamp: '2025-06-08T20:59:43Z' is not a unix time",
        ),
        (
            bad([(MESSAGE + ("timestamp",), "999999999999")]),
            "entry[0].changes[0].value.messages[0].timestamp: '999999999999' is out of range",
        ),
        (
            bad([(MESSAGE + ("errors",), {"code": 1})]),
            "entry[0].changes[0].value.messages[0].errors is not a list",
        ),
    ],
)
def test_unusable_payloads_raise_with_the_path(payload, reason):
    with pytest.raises(PayloadError) as caught:
        parse_delivery(payload)
    assert str(caught.value) == reason
    assert isinstance(caught.value, ValueError)


def test_one_bad_message_fails_the_whole_delivery_naming_it():
    payload = copy.deepcopy(CONTRACT_TEXT)
    good = payload["entry"][0]["changes"][0]
    payload["entry"][0]["changes"].append(copy.deepcopy(good))
    messages = payload["entry"][0]["changes"][1]["value"]["messages"]
    messages.extend([dict(messages[0], id="wamid.2"), {"from": "16505551234", "timestamp": "1749416383"}])
    with pytest.raises(PayloadError, match=r"^entry\[0\]\.changes\[1\]\.value\.messages\[2\]: no id$"):
        parse_delivery(payload)


@pytest.mark.parametrize(
    "message_type, content, reason",
    [
        ("image", {"mime_type": "image/jpeg", "sha256": "x"}, "messages[0].image: no id"),
        ("document", None, "messages[0].document: no id"),
        ("reaction", {"emoji": "👍"}, "messages[0].reaction: no message_id"),
        ("system", {"type": "user_changed_number", "wa_id": "not-a-number"}, "messages[0].system.wa_id: 'not-a"),
    ],
)
def test_content_we_cannot_use_raises(message_type, content, reason):
    with pytest.raises(PayloadError) as caught:
        parse_delivery(inbound(message_type, content))
    assert str(caught.value).startswith("entry[0].changes[0].value." + reason)


def test_sender_known_only_by_business_scoped_id_raises():
    """Meta leaves out ``from`` for customers who adopted a username (2026); finding customers
    by phone, we cannot place such a message and say so."""
    payload = inbound("text", {"body": "hi"}, from_user_id="US.13491208655302741918")
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    with pytest.raises(PayloadError, match=r"messages\[0\]: no from \(only business-scoped user id 'US\.1349"):
        parse_delivery(payload)


@pytest.mark.parametrize(
    "status, reason",
    [
        ({"status": "read", "timestamp": TIMESTAMP}, "statuses[0]: no id"),
        ({"id": WAMID, "timestamp": TIMESTAMP}, "statuses[0]: no status"),
        ({"id": WAMID, "status": "read"}, "statuses[0]: no timestamp"),
        ({"id": WAMID, "status": "failed", "timestamp": TIMESTAMP, "errors": ["x"]}, "statuses[0].errors[0] is not"),
    ],
)
def test_unusable_statuses_raise(status, reason):
    with pytest.raises(PayloadError) as caught:
        parse_delivery(statuses(status))
    assert str(caught.value).startswith("entry[0].changes[0].value." + reason)


def test_unusable_preference_raises():
    pref = {"category": "marketing_messages", "value": "stop", "timestamp": 1731705721}
    payload = delivery(
        {"messaging_product": "whatsapp", "metadata": dict(METADATA), "user_preferences": [pref]},
        field="user_preferences",
    )
    with pytest.raises(PayloadError, match=r"user_preferences\[0\]: no wa_id$"):
        parse_delivery(payload)


# ---------------------------------------------------------------------------------------------
# wa_id -> stored phone numbers


@pytest.mark.parametrize(
    "wa_id, phones",
    [
        # Spain and the United States: the wa_id is the E.164 number without "+".
        ("34612345678", ["+34612345678"]),
        ("16505551234", ["+16505551234"]),
        ("+34612345678", ["+34612345678"]),
        # Mexico: accounts keep the mobile "1" abolished in 2019 (CDMX, Guadalajara, Monterrey).
        ("5215512345678", ["+525512345678"]),
        ("5213312345678", ["+523312345678"]),
        ("528112345678", ["+528112345678"]),
        # Argentina: 549 + area + number; stored with the 9 (what "011 15-2345-6789" normalises to) or without.
        ("5491123456789", ["+5491123456789", "+541123456789"]),
        ("5493514567890", ["+5493514567890", "+543514567890"]),
        ("541123456789", ["+541123456789", "+5491123456789"]),
        # Brazil: the ninth digit; São Paulo ids carry it, older ids elsewhere do not.
        ("5511987654321", ["+5511987654321", "+551187654321"]),
        ("556187654321", ["+5561987654321", "+556187654321"]),
        ("558199887766", ["+5581999887766", "+558199887766"]),
        ("551132345678", ["+551132345678"]),  # a São Paulo landline: no mobile digit to add
    ],
)
def test_wa_id_phones(wa_id, phones):
    assert wa_id_phones(wa_id) == phones


@pytest.mark.parametrize(
    "wa_id", [None, 34612345678, "", "abc", "34 612 34 56 78", "3461234567x", "1" * 16, "12345", "999123456789"]
)
def test_wa_id_phones_garbage_gives_no_candidates(wa_id):
    assert wa_id_phones(wa_id) == []


def test_wa_id_phones_agrees_with_stored_normalisation():
    """What customers type, normalised as the identity table stores it, is among the candidates."""
    from odoo.addons.omnichannel_base.tools.identifiers import normalize_phone

    typed = [
        ("5215512345678", "55 1234 5678", "MX"),
        ("5491123456789", "011 15-2345-6789", "AR"),
        ("5491123456789", "+54 9 11 2345-6789", "AR"),
        ("5491123456789", "011 2345-6789", "AR"),
        ("556187654321", "(61) 98765-4321", "BR"),
        ("556187654321", "(61) 8765-4321", "BR"),
        ("34612345678", "612 34 56 78", "ES"),
        ("16505551234", "(650) 555-1234", "US"),
    ]
    for wa_id, number, region in typed:
        assert normalize_phone(number, region) in wa_id_phones(wa_id), (wa_id, number)
