"""A simple picture captcha for the public invoice lookup, made here (no outside service).

The authority's portal asks for the seller's tax code, the invoice's template, series, number
and total, and a captcha, so that nobody can page through other people's invoices. The picture
is a PNG of five characters (no look-alikes), each turned and shifted, over lines and dots; the
answer never leaves the server in clear: the form carries a token ``nonce.expiry.mac`` with
``mac = HMAC(secret, nonce|expiry|answer)``, checked once and then spent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

ALPHABET = "ACDEFHJKMNPRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B look-alikes
LENGTH = 5
TTL_S = 600
FONT = Path(__file__).resolve().parents[1] / "plates" / "fonts" / "RobotoCondensed-Medium.ttf"


@dataclass(frozen=True)
class Challenge:
    token: str  # goes in the form, hidden
    png: bytes  # shown to the person


class CaptchaSource(Protocol):
    def challenge(self) -> Challenge: ...

    def check(self, token: str, answer: str) -> bool: ...


def normalize(answer: str) -> str:
    return "".join(answer.split()).upper()


class PictureCaptcha:
    """Pictures from the OS's random source; answers checked by HMAC, each token used once."""

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        clock: Callable[[], float] = time.time,
        answer: Callable[[], str] | None = None,
        max_spent: int = 50_000,
    ) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self.clock = clock
        self._answer = answer or (lambda: "".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))
        self._spent: OrderedDict[str, float] = OrderedDict()
        self._max_spent = max_spent
        self._lock = threading.Lock()

    def _mac(self, nonce: str, expiry: int, answer: str) -> str:
        message = f"{nonce}|{expiry}|{normalize(answer)}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]

    def challenge(self) -> Challenge:
        answer = self._answer()
        nonce = secrets.token_urlsafe(12)
        expiry = int(self.clock()) + TTL_S
        token = f"{nonce}.{expiry}.{self._mac(nonce, expiry, answer)}"
        return Challenge(token, draw(answer))

    def check(self, token: str, answer: str) -> bool:
        """True once for the right answer before expiry; a token is spent by any attempt."""
        nonce, _, rest = token.partition(".")
        expiry_text, _, mac = rest.partition(".")
        if not (nonce and expiry_text.isdigit() and mac):
            return False
        expiry = int(expiry_text)
        now = self.clock()
        with self._lock:
            while self._spent and next(iter(self._spent.values())) < now:
                self._spent.popitem(last=False)
            if nonce in self._spent or expiry < now:
                return False
            self._spent[nonce] = float(expiry)
            while len(self._spent) > self._max_spent:
                self._spent.popitem(last=False)
        return hmac.compare_digest(mac, self._mac(nonce, expiry, answer))


@lru_cache(maxsize=1)
def _font(size: int) -> object:
    from PIL import ImageFont

    return ImageFont.truetype(str(FONT), size)


def draw(text: str, width: int = 180, height: int = 60) -> bytes:
    """The picture: characters turned and shifted at random, over noise lines and dots."""
    from PIL import Image, ImageDraw

    rng = secrets.SystemRandom()
    image = Image.new("RGB", (width, height), (246, 243, 235))
    pen = ImageDraw.Draw(image)
    for _ in range(6):
        pen.line(
            [(rng.randint(0, width), rng.randint(0, height)) for _ in range(2)],
            fill=(rng.randint(120, 200),) * 3,
            width=1,
        )
    font = _font(34)
    step = (width - 20) // max(1, len(text))
    for i, ch in enumerate(text):
        glyph = Image.new("RGBA", (44, 52), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((6, 2), ch, font=font, fill=(30, 40, 90, 255))  # type: ignore[arg-type]
        glyph = glyph.rotate(rng.uniform(-28, 28), resample=Image.Resampling.BICUBIC, expand=True)
        image.paste(glyph, (10 + i * step + rng.randint(-3, 3), rng.randint(-2, 8)), glyph)
    for _ in range(120):
        pen.point((rng.randint(0, width - 1), rng.randint(0, height - 1)), fill=(90, 90, 90))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def data_url(png: bytes) -> str:
    """The picture inline in the page: no second request to match up with the form."""
    return "data:image/png;base64," + base64.b64encode(png).decode()
