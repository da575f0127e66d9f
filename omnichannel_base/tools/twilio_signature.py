"""Twilio's webhook signature (``X-Twilio-Signature``), shared by the SMS (omnichannel_social) and
Voice (omnichannel_voip) providers, which do not depend on each other. Pure Python, no ORM.

Twilio "Webhooks security": base64 of HMAC-SHA1, keyed with the account's Auth Token, of the full
URL Twilio requested (its query included) followed by each POST field's name and value, fields
sorted by name. A name given several times contributes each distinct value, in sorted order, as
Twilio's own helper libraries do.
"""

import base64
import hashlib
import hmac
from urllib.parse import urlsplit


def signature(auth_token, url, params):
    """``X-Twilio-Signature`` of a POST of ``params`` (pairs, or a dict) to ``url``."""
    pairs = params.items() if isinstance(params, dict) else params
    values = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8", "surrogatepass"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url):
    """``url`` as Twilio may have signed it: as is, without its port, and with the scheme's
    default port (Twilio's libraries check both spellings, its signing being inconsistent)."""
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    host = parts.netloc.rsplit("@", 1)[-1]
    if port:
        variants.append(parts._replace(netloc=parts.netloc[: -len(f":{port}")]).geturl())
    elif host and parts.scheme in ("http", "https"):
        variants.append(parts._replace(netloc=f"{parts.netloc}:{443 if parts.scheme == 'https' else 80}").geturl())
    return variants


def is_authentic(auth_token, urls, params, received):
    """Whether ``received`` (the header) signs ``params`` for one of ``urls``, compared in constant time."""
    if not auth_token or not received:
        return False
    received = received.strip().encode("utf-8", "replace")
    found = False
    for url in urls:
        for variant in url_variants(url):
            found |= hmac.compare_digest(signature(auth_token, variant, params).encode(), received)
    return found


def signed_urls(httprequest, configured_url=None):
    """The URLs Twilio may have signed for ``httprequest``: the one Odoo received, with its query
    exactly as sent (werkzeug's ``url`` decodes it: a signed ``%2B`` would read "+" and fail),
    werkzeug's own spelling of it, and the channel's webhook URL as the administrator gave it to
    Twilio (behind a proxy without ``proxy_mode``, say), with the same query."""
    query = httprequest.query_string.decode("utf-8", "replace")
    urls = [f"{httprequest.base_url}?{query}" if query else httprequest.base_url, httprequest.url]
    if configured_url:
        urls.append(f"{configured_url}?{query}" if query else configured_url)
    return list(dict.fromkeys(urls))
