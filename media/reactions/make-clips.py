#!/usr/bin/env python3
"""Draws blacksky's reaction clips and encodes them as small looping MP4s.

Each reaction is two round characters (A, blue, left; B, orange, right)
acting out the verb, drawn frame by frame with Pillow from code (no
image, no font file, nothing downloaded), then encoded by ffmpeg as
H.264 (baseline, yuv420p), 160x160, 16 fps, 24 frames (1.5 s, a
seamless loop: every motion is periodic), `+faststart` (the index
first, so a player starts before the end arrives), no audio, no SEI or
metadata. WhatsApp plays them as GIFs (`videoMessage.gifPlayback`).

Regenerate (from the repository root):

    apt-get install -y ffmpeg        # with libx264
    pip install pillow               # 10.1 or newer (its built-in font)
    python3 media/reactions/make-clips.py

It writes media/reactions/<name>.mp4 for each reaction,
media/reactions/manifest.json (name, the English and German phrases,
the file's size and SHA-256, the total), media/reactions/README.md (the
list) and bot/src/reactions/table.rs (the same table for the bot, which
embeds the clips). Other ffmpeg or
x264 versions may give other bytes; the pictures stay the same.
`--check` only draws one frame of each as media/reactions/<name>.png (no
ffmpeg; git-ignored), for a quick look.
"""

import hashlib
import json
import math
import os
import subprocess
import sys

from PIL import Image, ImageDraw, ImageFont

SIZE = 160
SCALE = 2  # drawn at 2x, then scaled down: smooth edges
FPS = 16
FRAMES = 24
CRF = "26"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLE_RS = os.path.join(ROOT, "bot", "src", "reactions", "table.rs")

BLUE = (84, 140, 230)
ORANGE = (245, 160, 70)
INK = (40, 40, 55)
PINK = (240, 110, 150)
RED = (225, 60, 70)
YELLOW = (250, 210, 60)
WHITE = (255, 255, 255)
TEAR = (110, 180, 250)
SKIN = (255, 215, 170)
GREY = (150, 150, 160)

# name, English with a target, German with a target, English alone,
# German alone, background
REACTIONS = [
    ("hug", "{a} hugs {b}", "{a} umarmt {b}", "{a} wants a hug", "{a} möchte eine Umarmung", (255, 236, 240)),
    ("kiss", "{a} kisses {b}", "{a} küsst {b}", "{a} blows a kiss", "{a} wirft einen Kuss", (255, 230, 235)),
    ("slap", "{a} slaps {b}", "{a} ohrfeigt {b}", "{a} slaps the air", "{a} ohrfeigt die Luft", (255, 240, 225)),
    ("pat", "{a} pats {b}", "{a} tätschelt {b}", "{a} wants head pats", "{a} möchte gestreichelt werden", (235, 245, 255)),
    ("cuddle", "{a} cuddles {b}", "{a} kuschelt mit {b}", "{a} wants to cuddle", "{a} möchte kuscheln", (250, 235, 255)),
    ("poke", "{a} pokes {b}", "{a} stupst {b} an", "{a} pokes around", "{a} stupst herum", (240, 250, 235)),
    ("wave", "{a} waves at {b}", "{a} winkt {b}", "{a} waves", "{a} winkt", (230, 245, 250)),
    ("dance", "{a} dances with {b}", "{a} tanzt mit {b}", "{a} dances", "{a} tanzt", (245, 235, 255)),
    ("cry", "{a} cries on {b}'s shoulder", "{a} weint sich bei {b} aus", "{a} cries", "{a} weint", (230, 238, 250)),
    ("laugh", "{a} laughs at {b}", "{a} lacht über {b}", "{a} laughs", "{a} lacht", (255, 248, 225)),
    ("highfive", "{a} high-fives {b}", "{a} gibt {b} ein High Five", "{a} wants a high five", "{a} möchte ein High Five", (255, 245, 220)),
    ("bonk", "{a} bonks {b}", "{a} bonkt {b}", "{a} bonks the air", "{a} bonkt in die Luft", (240, 240, 250)),
    ("bite", "{a} bites {b}", "{a} beißt {b}", "{a} wants to bite", "{a} möchte beißen", (255, 238, 230)),
    ("blush", "{a} blushes at {b}", "{a} wird rot wegen {b}", "{a} blushes", "{a} wird rot", (255, 235, 240)),
    ("wink", "{a} winks at {b}", "{a} zwinkert {b} zu", "{a} winks", "{a} zwinkert", (240, 248, 255)),
    ("facepalm", "{a} facepalms at {b}", "{a} fasst sich wegen {b} an den Kopf", "{a} facepalms", "{a} fasst sich an den Kopf", (245, 245, 240)),
    ("smile", "{a} smiles at {b}", "{a} lächelt {b} an", "{a} smiles", "{a} lächelt", (255, 250, 230)),
    ("nom", "{a} noms on {b}", "{a} knabbert an {b}", "{a} noms", "{a} knabbert", (255, 242, 228)),
    ("yeet", "{a} yeets {b}", "{a} wirft {b} weg", "{a} yeets", "{a} wirft alles weg", (232, 246, 255)),
    ("happy", "{a} is happy with {b}", "{a} freut sich mit {b}", "{a} is happy", "{a} freut sich", (255, 250, 220)),
    ("handhold", "{a} holds {b}'s hand", "{a} hält {b}s Hand", "{a} wants to hold hands", "{a} möchte Händchen halten", (250, 238, 250)),
    ("lick", "{a} licks {b}", "{a} leckt {b} ab", "{a} licks the air", "{a} leckt in die Luft", (240, 255, 240)),
    ("punch", "{a} punches {b}", "{a} boxt {b}", "{a} punches the air", "{a} boxt in die Luft", (255, 236, 228)),
    ("kick", "{a} kicks {b}", "{a} tritt {b}", "{a} kicks the air", "{a} tritt in die Luft", (238, 242, 255)),
    ("boop", "{a} boops {b}", "{a} stupst {b} auf die Nase", "{a} wants a boop", "{a} möchte einen Stupser", (245, 238, 255)),
    ("tickle", "{a} tickles {b}", "{a} kitzelt {b}", "{a} is ticklish", "{a} ist kitzelig", (255, 246, 236)),
    ("shrug", "{a} shrugs at {b}", "{a} zuckt bei {b} mit den Schultern", "{a} shrugs", "{a} zuckt mit den Schultern", (240, 244, 246)),
    ("sleep", "{a} falls asleep on {b}", "{a} schläft bei {b} ein", "{a} falls asleep", "{a} schläft ein", (225, 230, 250)),
]


def wave(t, phase=0.0):
    """A sine over one loop: 0 → 1 → 0 → -1 → 0."""
    return math.sin(2 * math.pi * (t + phase))


def pulse(t, phase=0.0):
    """0 → 1 → 0 over one loop (smooth)."""
    return 0.5 - 0.5 * math.cos(2 * math.pi * (t + phase))


def hit(t, at=0.5, width=0.12):
    """1 near `at` (wrapping), 0 elsewhere: an impact's flash."""
    d = abs(((t - at + 0.5) % 1.0) - 0.5)
    return max(0.0, 1.0 - d / width)


class Canvas:
    def __init__(self, background):
        self.image = Image.new("RGB", (SIZE * SCALE, SIZE * SCALE), background)
        self.d = ImageDraw.Draw(self.image)

    def _p(self, *xy):
        return [v * SCALE for v in xy]

    def circle(self, x, y, r, fill, outline=INK, width=2):
        self.d.ellipse(self._p(x - r, y - r, x + r, y + r), fill=fill, outline=outline, width=width * SCALE)

    def ellipse(self, x, y, rx, ry, fill, outline=None, width=2):
        self.d.ellipse(self._p(x - rx, y - ry, x + rx, y + ry), fill=fill, outline=outline, width=width * SCALE)

    def line(self, points, fill=INK, width=3):
        self.d.line(self._p(*[c for p in points for c in p]), fill=fill, width=width * SCALE, joint="curve")

    def arc(self, x, y, r, start, end, fill=INK, width=2):
        self.d.arc(self._p(x - r, y - r, x + r, y + r), start, end, fill=fill, width=width * SCALE)

    def polygon(self, points, fill, outline=None):
        self.d.polygon(self._p(*[c for p in points for c in p]), fill=fill, outline=outline)

    def rect(self, x0, y0, x1, y1, fill, outline=INK):
        self.d.rectangle(self._p(x0, y0, x1, y1), fill=fill, outline=outline, width=2 * SCALE)

    def text(self, x, y, words, size=13, fill=INK):
        font = ImageFont.load_default(size * SCALE)
        self.d.text(self._p(x, y), words, fill=fill, font=font, anchor="mm")

    def frame(self):
        return self.image.resize((SIZE, SIZE), Image.LANCZOS)


def heart(c, x, y, s, color=RED):
    c.circle(x - s * 0.5, y - s * 0.2, s * 0.55, color, outline=None)
    c.circle(x + s * 0.5, y - s * 0.2, s * 0.55, color, outline=None)
    c.polygon([(x - s * 1.02, y), (x + s * 1.02, y), (x, y + s * 1.2)], color)


def star(c, x, y, s, color=YELLOW):
    points = []
    for i in range(10):
        r = s if i % 2 == 0 else s * 0.45
        a = math.pi / 5 * i - math.pi / 2
        points.append((x + r * math.cos(a), y + r * math.sin(a)))
    c.polygon(points, color, outline=INK)


def burst(c, x, y, s, color=YELLOW):
    points = []
    for i in range(16):
        r = s if i % 2 == 0 else s * 0.55
        a = math.pi / 8 * i
        points.append((x + r * math.cos(a), y + r * math.sin(a)))
    c.polygon(points, color, outline=INK)


def note(c, x, y, color):
    """A quaver: the built-in font has no music sign."""
    c.ellipse(x, y, 4, 3, color)
    c.line([(x + 3, y), (x + 3, y - 14)], color, width=2)
    c.line([(x + 3, y - 14), (x + 8, y - 9)], color, width=2)


def hand(c, x, y, r=6, color=SKIN):
    c.circle(x, y, r, color, width=2)


def person(c, x, y, color, eyes="open", mouth="smile", blush=0.0, r=26, look=0.0, squash=1.0):
    """A round character centred at (x, y)."""
    c.ellipse(x, y + 4, r, r * squash, color, outline=INK, width=2)
    ey = y - 4 * squash
    for side, ex in ((-1, x - 9 + look), (1, x + 9 + look)):
        kind = eyes if not isinstance(eyes, tuple) else eyes[0 if side < 0 else 1]
        if kind == "open":
            c.circle(ex, ey, 4, WHITE, width=1)
            c.circle(ex + look * 0.3, ey, 2, INK, outline=None)
        elif kind == "closed":
            c.line([(ex - 4, ey), (ex + 4, ey)], width=2)
        elif kind == "happy":
            c.arc(ex, ey + 2, 4, 200, 340, width=2)
        elif kind == "sad":
            c.arc(ex, ey - 2, 4, 20, 160, width=2)
        elif kind == "x":
            c.line([(ex - 3, ey - 3), (ex + 3, ey + 3)], width=2)
            c.line([(ex - 3, ey + 3), (ex + 3, ey - 3)], width=2)
    my = y + 10 * squash
    if mouth == "smile":
        c.arc(x + look, my - 4, 7, 20, 160, width=2)
    elif mouth == "grin":
        c.d.chord(c._p(x - 9 + look, my - 8, x + 9 + look, my + 6), 0, 180, fill=(120, 30, 40), outline=INK, width=2 * SCALE)
    elif mouth == "open":
        c.ellipse(x + look, my, 5, 4, (120, 30, 40), outline=INK)
    elif mouth == "frown":
        c.arc(x + look, my + 5, 7, 200, 340, width=2)
    elif mouth == "flat":
        c.line([(x - 5 + look, my), (x + 5 + look, my)], width=2)
    elif mouth == "o":
        c.circle(x + look, my, 3, (120, 30, 40), width=1)
    if blush > 0:
        tone = tuple(int(a + (b - a) * blush) for a, b in zip(color, PINK))
        c.ellipse(x - 16 + look, y + 5, 5, 3, tone)
        c.ellipse(x + 16 + look, y + 5, 5, 3, tone)


# ---- the reactions: each draws frame t (0 <= t < 1) ----

AX, BX, Y = 50, 110, 78


def draw_hug(c, t):
    close = pulse(t)
    ax, bx = AX + 14 * close, BX - 14 * close
    person(c, ax, Y, BLUE, eyes="happy" if close > 0.5 else "open")
    person(c, bx, Y, ORANGE, eyes="happy" if close > 0.5 else "open", blush=close)
    c.arc(bx - 8, Y + 6, 22, 120, 240, width=4)
    c.arc(ax + 8, Y + 6, 22, -60, 60, width=4)
    if close > 0.6:
        heart(c, 80, 36 - 10 * close, 7)


def draw_kiss(c, t):
    lean = pulse(t)
    person(c, AX + 16 * lean, Y, BLUE, eyes="closed", mouth="o")
    person(c, BX, Y, ORANGE, eyes="happy", blush=lean)
    rise = (t * 2) % 1.0
    heart(c, 88, 60 - 30 * rise, 5 + 4 * rise, PINK)


def draw_slap(c, t):
    swing = pulse(t)
    person(c, AX, Y, BLUE, mouth="flat")
    jolt = hit(t) * 8
    person(c, BX + jolt, Y, ORANGE, eyes="x" if hit(t) > 0.3 else "open", mouth="o")
    hx = AX + 25 + 35 * swing
    hand(c, hx, Y - 2, 8)
    if hit(t) > 0.3:
        burst(c, BX - 22, Y - 4, 12 * hit(t) + 4)


def draw_pat(c, t):
    bob = pulse(t * 3 % 1.0)
    person(c, AX, Y, BLUE)
    person(c, BX, Y + 3 * bob, ORANGE, eyes="happy", blush=0.6, squash=1 - 0.06 * bob)
    c.line([(AX + 18, Y - 10), (BX - 2, Y - 38 + 6 * bob)], width=4)
    hand(c, BX, Y - 36 + 6 * bob, 9)


def draw_cuddle(c, t):
    sway = wave(t) * 6
    person(c, 66 + sway, Y + 4, BLUE, eyes="closed")
    person(c, 96 + sway, Y + 2, ORANGE, eyes="closed", blush=0.8)
    c.arc(90 + sway, Y + 10, 24, 100, 250, width=4)
    for i, phase in enumerate((0.0, 0.5)):
        rise = (t + phase) % 1.0
        heart(c, 60 + 40 * i + sway, 40 - 24 * rise, 4 + 3 * rise, PINK)


def draw_poke(c, t):
    reach = pulse(t * 2 % 1.0)
    person(c, AX, Y, BLUE, mouth="grin", look=3)
    person(c, BX + 4 * hit(t * 2 % 1.0), Y, ORANGE, eyes="open", mouth="o")
    tip = AX + 26 + 30 * reach
    c.line([(AX + 20, Y + 4), (tip, Y)], width=4)
    if reach > 0.8:
        c.text(BX + 18, Y - 34, "!", 18, RED)


def draw_wave(c, t):
    a = wave(t * 2 % 1.0) * 0.6
    for x, color, phase in ((AX, BLUE, 0.0), (BX, ORANGE, 0.25)):
        person(c, x, Y, color, eyes="happy")
        angle = wave((t * 2 + phase) % 1.0) * 0.6 - math.pi / 2
        hx, hy = x + 20 + 18 * math.cos(angle + a), Y - 10 + 18 * math.sin(angle + a)
        c.line([(x + 18, Y - 2), (hx, hy)], width=4)
        hand(c, hx, hy, 7)


def draw_dance(c, t):
    for x, color, phase in ((AX, BLUE, 0.0), (BX, ORANGE, 0.5)):
        hop = abs(wave(t * 2 % 1.0, phase / 2))
        tilt = wave(t, phase) * 5
        person(c, x + tilt, Y - 12 * hop, color, eyes="happy", mouth="grin")
    for i in range(3):
        rise = (t + i / 3) % 1.0
        note(c, 30 + 50 * i, 44 - 20 * rise, (120, 80, 200))


def draw_cry(c, t):
    person(c, 68, Y, BLUE, eyes="sad", mouth="frown")
    person(c, 118, Y + 2, ORANGE, eyes="open", mouth="flat", r=22)
    for side in (-1, 1):
        for k in range(3):
            fall = (t * 2 + k / 3) % 1.0
            c.ellipse(68 + side * 11, Y + 2 + 34 * fall, 2.5, 4, TEAR)
    c.line([(104, Y - 6), (84, Y - 24)], width=4)
    hand(c, 84, Y - 24, 6)


def draw_laugh(c, t):
    shake = wave(t * 4 % 1.0) * 3
    person(c, AX + shake, Y, BLUE, eyes="happy", mouth="grin")
    person(c, BX, Y, ORANGE, eyes="open", mouth="flat")
    for i in range(2):
        pop = (t * 2 + i / 2) % 1.0
        c.text(AX - 10 + 28 * i, 40 - 14 * pop, "HA", 12 + int(4 * pop), RED)


def draw_highfive(c, t):
    up = pulse(t)
    person(c, AX, Y, BLUE, eyes="happy", mouth="grin")
    person(c, BX, Y, ORANGE, eyes="happy", mouth="grin")
    meet = 80
    ax, bx = AX + 18 + (meet - 6 - AX - 18) * up, BX - 18 - (BX - 18 - meet - 6) * up
    hy = Y - 10 - 24 * up
    c.line([(AX + 16, Y - 4), (ax, hy)], width=4)
    c.line([(BX - 16, Y - 4), (bx, hy)], width=4)
    hand(c, ax, hy, 8)
    hand(c, bx, hy, 8)
    if up > 0.85:
        burst(c, meet, hy - 16, 10)


def draw_bonk(c, t):
    fall = pulse(t)
    impact = hit(t)
    person(c, AX, Y, BLUE, mouth="flat")
    person(c, BX, Y + 6 * impact, ORANGE, eyes="x" if impact > 0.3 else "open", mouth="o", squash=1 - 0.2 * impact)
    # The hammer's head swings from above A to the top of B's head.
    hx, hy = AX + 20 + (BX - AX - 20) * fall, Y - 62 + (62 - 40) * fall
    c.line([(AX + 16, Y - 8), (hx, hy)], GREY, width=4)
    c.rect(hx - 14, hy - 8, hx + 14, hy + 6, (170, 110, 70))
    if impact > 0.4:
        for i in range(3):
            star(c, BX - 16 + 16 * i, Y - 40 - 4 * (i % 2), 5)


def draw_bite(c, t):
    chomp = pulse(t * 2 % 1.0)
    person(c, AX + 14 * chomp, Y, BLUE, eyes="closed", mouth="grin" if chomp > 0.5 else "open")
    person(c, BX, Y, ORANGE, eyes="x" if chomp > 0.7 else "open", mouth="o")
    if chomp > 0.7:
        c.text(84, 36, "CHOMP", 12, RED)


def draw_blush(c, t):
    glow = pulse(t)
    person(c, 70, Y, BLUE, eyes="happy", blush=glow, look=-2)
    heart(c, 112, 48 - 8 * glow, 4 + 4 * glow, PINK)
    heart(c, 34, 44 - 6 * (1 - glow), 3 + 3 * (1 - glow), PINK)


def draw_wink(c, t):
    shut = hit(t, 0.5, 0.25) > 0.2
    person(c, 74, Y, BLUE, eyes=("open", "closed") if shut else "open", mouth="smile")
    if shut:
        star(c, 110, 48, 9 * hit(t, 0.5, 0.25) + 3)


def draw_facepalm(c, t):
    down = pulse(t)
    person(c, 78, Y, BLUE, eyes="closed", mouth="frown")
    hx, hy = 78 - 10 + 4 * (1 - down), Y - 2 + 30 * (1 - down)
    c.line([(56, Y + 30), (hx, hy)], width=5)
    c.ellipse(hx, hy, 14, 9, SKIN, outline=INK)
    c.text(120, 40, "..." if down > 0.5 else "", 16)


def draw_smile(c, t):
    grow = pulse(t)
    person(c, 78, Y, BLUE, eyes="happy", mouth="grin" if grow > 0.5 else "smile", blush=0.4 * grow)
    for i in range(4):
        a = 2 * math.pi * (i / 4 + t / 4)
        star(c, 78 + 48 * math.cos(a), Y + 40 * math.sin(a), 3 + 3 * grow)


def draw_nom(c, t):
    bite = pulse(t * 2 % 1.0)
    person(c, AX, Y, BLUE, eyes="happy", mouth="open" if bite > 0.5 else "smile")
    left = 1.0 - (t % 1.0) * 0.8
    r = 14
    c.d.pieslice(c._p(80 - r, Y - r, 80 + r, Y + r), 200 * (1 - left), 360, fill=(200, 150, 90), outline=INK, width=2 * SCALE)
    person(c, BX + 10, Y, ORANGE, r=18, mouth="o")
    if bite > 0.6:
        c.text(62, 36, "nom", 12, RED)


def draw_yeet(c, t):
    person(c, AX, Y, BLUE, mouth="grin")
    # B flies up and off to the right, then slides back in from the left edge below.
    if t < 0.6:
        f = t / 0.6
        bx, by = 80 + 90 * f, Y - 60 * math.sin(math.pi * f * 0.9)
        person(c, bx, by, ORANGE, eyes="x", mouth="o", r=20 - 6 * f)
        for k in range(3):
            c.line([(bx - 30 - 6 * k, by + 8 * k - 8), (bx - 18 - 6 * k, by + 8 * k - 8)], GREY, width=2)
    else:
        f = (t - 0.6) / 0.4
        person(c, -20 + 100 * f, Y + 40, ORANGE, eyes="open", mouth="flat", r=14)
    c.line([(AX + 18, Y - 2), (AX + 30, Y - 26)], width=4)
    hand(c, AX + 30, Y - 26, 7)
    c.text(40, 24, "YEET", 14, RED)


def draw_happy(c, t):
    hop = abs(wave(t))
    person(c, 78, Y - 20 * hop, BLUE, eyes="happy", mouth="grin", squash=1 + 0.05 * hop)
    for i in range(5):
        a = 2 * math.pi * (i / 5 + t)
        star(c, 78 + 56 * math.cos(a), Y - 10 + 44 * math.sin(a), 4)


def draw_handhold(c, t):
    step = wave(t * 2 % 1.0)
    person(c, AX + 4, Y - 3 * abs(step), BLUE, eyes="happy", blush=0.5)
    person(c, BX - 4, Y - 3 * abs(wave(t * 2 % 1.0, 0.25)), ORANGE, eyes="happy", blush=0.5)
    c.line([(AX + 24, Y + 10), (80, Y + 20)], width=4)
    c.line([(BX - 24, Y + 10), (80, Y + 20)], width=4)
    hand(c, 80, Y + 20, 8)
    heart(c, 80, 34 + 4 * step, 6, PINK)


def draw_lick(c, t):
    out = pulse(t * 2 % 1.0)
    person(c, AX + 6 * out, Y, BLUE, eyes="closed", mouth="open")
    person(c, BX + 3 * hit(t * 2 % 1.0), Y, ORANGE, eyes=("open", "closed"), mouth="frown")
    c.ellipse(AX + 14 + 26 * out, Y + 12, 6 + 12 * out, 4, PINK, outline=INK)


def draw_punch(c, t):
    jab = pulse(t * 2 % 1.0)
    impact = hit(t * 2 % 1.0, 0.5, 0.15)
    person(c, AX, Y, BLUE, mouth="flat", look=3)
    person(c, BX + 10 * impact, Y, ORANGE, eyes="x" if impact > 0.3 else "open", mouth="o")
    fx = AX + 22 + 38 * jab
    c.line([(AX + 18, Y + 4), (fx, Y + 2)], width=5)
    c.circle(fx, Y + 2, 9, SKIN)
    if impact > 0.3:
        burst(c, BX - 20, Y, 10 + 6 * impact)


def draw_kick(c, t):
    kick = pulse(t)
    impact = hit(t)
    person(c, AX, Y - 6, BLUE, mouth="grin")
    person(c, BX + 12 * impact, Y - 6 * impact, ORANGE, eyes="x" if impact > 0.3 else "open", mouth="o")
    angle = math.pi / 2 - 1.3 * kick
    fx, fy = AX + 8 + 44 * math.cos(angle), Y + 24 + 30 * math.sin(angle) - 24
    c.line([(AX + 8, Y + 24), (fx, fy)], width=5)
    c.ellipse(fx + 4, fy, 9, 6, INK)
    if impact > 0.3:
        burst(c, BX - 18, Y + 10, 10)


def draw_boop(c, t):
    reach = pulse(t)
    person(c, AX, Y, BLUE, eyes="happy", mouth="smile")
    touched = reach > 0.85
    person(c, BX, Y, ORANGE, eyes="closed" if touched else "open", mouth="o" if touched else "smile", blush=0.5 * reach)
    c.line([(AX + 18, Y), (AX + 20 + 38 * reach, Y + 6)], width=4)
    hand(c, AX + 20 + 38 * reach, Y + 6, 5)
    if touched:
        c.text(BX, 36, "boop", 14, (120, 80, 200))


def draw_tickle(c, t):
    wiggle = wave(t * 4 % 1.0)
    person(c, AX, Y, BLUE, mouth="grin")
    person(c, BX + 3 * wiggle, Y, ORANGE, eyes="happy", mouth="grin", blush=0.5)
    for dy in (-6, 12):
        c.line([(AX + 18, Y + dy / 2), (BX - 28, Y + dy + 4 * wiggle)], width=3)
        hand(c, BX - 26, Y + dy + 4 * wiggle, 5)
    c.text(BX + 4, 34, "hihi", 12, RED)


def draw_shrug(c, t):
    up = pulse(t)
    person(c, 80, Y + 4 - 4 * up, BLUE, eyes="closed", mouth="flat")
    for side in (-1, 1):
        hx, hy = 80 + side * 46, Y - 4 - 16 * up
        c.line([(80 + side * 24, Y + 10), (80 + side * 36, Y + 12 - 8 * up), (hx, hy)], width=4)
        hand(c, hx, hy, 7)
    c.text(80, 30, "?", 18)


def draw_sleep(c, t):
    breathe = pulse(t)
    person(c, 62, Y + 8, BLUE, eyes="closed", mouth="o", squash=1 + 0.04 * breathe)
    person(c, 108, Y, ORANGE, eyes="open", mouth="smile")
    for k in range(3):
        rise = (t + k / 3) % 1.0
        c.text(62 + 20 * rise + 8 * k, 40 - 26 * rise, "z", 10 + 4 * k, (90, 90, 160))


DRAW = {name: globals()[f"draw_{name}"] for name, *_ in REACTIONS}


def frames(name, background):
    for i in range(FRAMES):
        c = Canvas(background)
        DRAW[name](c, i / FRAMES)
        c.text(80, 148, name.upper(), 12, (90, 90, 110))
        yield c.frame()


def encode(name, background, path):
    command = [
        "ffmpeg", "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{SIZE}x{SIZE}", "-r", str(FPS), "-i", "-",
        "-an", "-c:v", "libx264", "-preset", "veryslow", "-tune", "animation", "-crf", CRF,
        "-profile:v", "baseline", "-level", "3.0", "-pix_fmt", "yuv420p", "-threads", "1",
        # No SEI (x264 writes its version and options there), no metadata.
        "-bsf:v", "filter_units=remove_types=6",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-movflags", "+faststart", path,
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    for frame in frames(name, background):
        process.stdin.write(frame.tobytes())
    process.stdin.close()
    if process.wait() != 0:
        sys.exit(f"ffmpeg failed for {name}")


def rust_str(text):
    return json.dumps(text, ensure_ascii=False)


def write_table(entries):
    lines = [
        "// @generated by media/reactions/make-clips.py: do not edit; run the script.",
        "",
        "use super::Reaction;",
        "",
        f"/// Every reaction clip that ships with blacksky ({len(entries)}).",
        f"pub static REACTIONS: [Reaction; {len(entries)}] = [",
    ]
    for e in entries:
        lines += [
            "    Reaction {",
            f"        name: {rust_str(e['name'])},",
            f"        en: {rust_str(e['en'])},",
            f"        de: {rust_str(e['de'])},",
            f"        en_alone: {rust_str(e['en_alone'])},",
            f"        de_alone: {rust_str(e['de_alone'])},",
            f"        mp4: include_bytes!(\"../../../media/reactions/{e['name']}.mp4\"),",
            f"        sha256: \"{e['sha256']}\",",
            "    },",
        ]
    lines += ["];", ""]
    os.makedirs(os.path.dirname(TABLE_RS), exist_ok=True)
    with open(TABLE_RS, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))


def write_readme(entries, total):
    lines = [
        "# Reaction clips",
        "",
        "<!-- @generated by make-clips.py: do not edit; run the script. -->",
        "",
        f"{len(entries)} looping clips, {total:,} bytes in all ({total / 1024:.0f} KiB): "
        f"H.264 baseline, yuv420p, {SIZE}x{SIZE}, {FPS} fps, {FRAMES} frames "
        f"({FRAMES / FPS:g} s), faststart, no audio. Drawn from code and encoded by "
        "`make-clips.py` (Python + Pillow, ffmpeg with libx264); the bot embeds them "
        "(`bot/src/reactions.rs`) and sends them as GIFs. Regenerate with "
        "`python3 media/reactions/make-clips.py` from the repository root.",
        "",
        "| name | English | German | bytes |",
        "|---|---|---|---:|",
    ]
    for e in entries:
        lines.append(f"| `{e['name']}` | {e['en']} | {e['de']} | {e['bytes']:,} |")
    lines.append("")
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8") as out:
        out.write("\n".join(lines))


def main():
    if "--check" in sys.argv:
        for name, *_rest, background in REACTIONS:
            next(frames(name, background)).save(os.path.join(HERE, f"{name}.png"))
        return
    entries = []
    for name, en, de, en_alone, de_alone, background in REACTIONS:
        path = os.path.join(HERE, f"{name}.mp4")
        encode(name, background, path)
        data = open(path, "rb").read()
        entries.append({
            "name": name, "en": en, "de": de, "en_alone": en_alone, "de_alone": de_alone,
            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        })
        print(f"{name}: {len(data)} bytes")
    total = sum(e["bytes"] for e in entries)
    manifest = {
        "generator": "media/reactions/make-clips.py",
        "format": f"H.264 baseline, yuv420p, {SIZE}x{SIZE}, {FPS} fps, {FRAMES} frames, faststart, no audio",
        "total_bytes": total,
        "reactions": entries,
    }
    with open(os.path.join(HERE, "manifest.json"), "w", encoding="utf-8") as out:
        json.dump(manifest, out, ensure_ascii=False, indent=2)
        out.write("\n")
    write_table(entries)
    write_readme(entries, total)
    print(f"{len(entries)} clips, {total} bytes in all")


if __name__ == "__main__":
    main()
