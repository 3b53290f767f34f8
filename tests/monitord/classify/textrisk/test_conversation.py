"""Recent typing per person and app, and the lesson a person has open: bounded, in event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitord.classify.textrisk.blend import BlendedJudge, default_judge
from monitord.classify.textrisk.conversation import (
    JOIN,
    Conversations,
    signalled,
    window_read,
    with_recent,
)
from monitord.classify.textrisk.judge import JUNIOR, TYPED, TextJudge
from monitord.classify.textrisk.learned import TextModel
from monitord.classify.textrisk.lexicon import default_lexicon

T = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_messages_in_the_window_are_joined_in_order() -> None:
    c = Conversations()
    c.add("amy", "roblox", T, "hi")
    c.add("amy", "discord", T, "elsewhere")
    r = c.add("amy", "roblox", T + timedelta(minutes=2), "there")
    assert (r.text, r.messages, r.seconds) == (f"hi{JOIN}there", 2, 120)


def test_old_messages_fall_out_of_the_window() -> None:
    c = Conversations(window=timedelta(minutes=5))
    c.add("amy", "roblox", T, "old")
    r = c.add("amy", "roblox", T + timedelta(minutes=6), "new")
    assert (r.text, r.messages) == ("new", 1)


def test_everything_is_bounded() -> None:
    c = Conversations(max_messages=3, max_chars=20, max_people=2)
    for i in range(10):
        r = c.add("amy", "app", T + timedelta(seconds=i), f"m{i}")
    assert r.messages == 3
    long = c.add("bob", "app", T, "x" * 50)
    assert len(long.text) == 20
    c.add("cat", "app", T, "hello")
    assert len(c) == 2  # amy, the least recently active, is gone
    assert c.add("amy", "app", T + timedelta(seconds=20), "again").messages == 1


def calm_model(harmless: float | None) -> TextModel:
    """By hand: every word scores 0.02 but "zorblax" (0.98)."""
    return TextModel(
        bias=-4.0,
        weights={"zorblax": 8.0},
        categories=("suicide",),
        category_bias=(0.0,),
        category_weights={},
        high=0.9,
        low=0.6,
        harmless=harmless,
    )


def test_messages_the_model_reads_as_everyday_talk_are_not_raised() -> None:
    def last(judge: TextJudge, first: str, then: str) -> tuple[str, ...]:
        c = Conversations()
        c.add("amy", "chat", T, first)
        recent = c.add("amy", "chat", T + timedelta(seconds=20), then)
        verdict = judge.judge(then, TYPED, JUNIOR)
        return with_recent(judge, verdict, recent, JUNIOR, None).categories

    calm = BlendedJudge(default_lexicon(), calm_model(0.05))
    said = "i wanna die"  # three words: the model never reads a message this short alone
    assert calm.judge(said, TYPED, JUNIOR).categories == ("suicide",)
    assert last(calm, "this test is so long", said) == ()
    # the model reads a risk in them, it has no harmless score, the lexicons alone: raised
    assert last(calm, "zorblax this test is so long", said) == ("suicide",)
    uncalm = BlendedJudge(default_lexicon(), calm_model(None))
    assert last(uncalm, "this test is so long", said) == ("suicide",)
    assert last(TextJudge(default_lexicon()), "this test is so long", said) == ("suicide",)
    # grooming is a pattern whose messages read as everyday talk
    assert "grooming" in last(calm, "dont tell your mum", "send me a pic of you")


def borne_model() -> TextModel:
    """By hand: "zorblax" is suicide's word, "snurk" grooming's; other words score little."""
    return TextModel(
        bias=-4.0,
        weights={"zorblax": 8.0, "snurk": 8.0, "calm": -8.0},
        categories=("suicide", "grooming"),
        category_bias=(0.0, 0.0),
        category_weights={"zorblax": (3.0, 0.0), "snurk": (0.0, 6.0)},
        high=0.9,
        low=0.6,
    )


def test_what_the_model_raised_alone_needs_the_messages_around_it() -> None:
    judge = BlendedJudge(default_lexicon(), borne_model())
    said = "ok i will zorblax then"
    assert judge.judge(said, TYPED, JUNIOR).categories == ("suicide",)
    assert _last(judge, "what are you doing later", said) == ("suicide",)
    # read with the message it answers, most like another category: not raised, and said so
    c = Conversations()
    c.add("amy", "chat", T, "snurk snurk snurk")
    recent = c.add("amy", "chat", T + timedelta(seconds=20), said)
    verdict = with_recent(judge, judge.judge(said, TYPED, JUNIOR), recent, JUNIOR, None)
    assert "suicide" not in verdict.categories
    why = " ".join(r for s in verdict.scores if s.category == "suicide" for r in s.reasons)
    assert "not borne out" in why
    # read together, scored as everyday talk: not raised
    assert _last(judge, "calm calm calm", said) == ()
    # a message typed alone, and a category the lexicons raised, keep their word
    assert _last(judge, said) == ("suicide",)
    assert _last(judge, "snurk snurk snurk", "i want to kill myself") == ("suicide",)


def test_a_harmless_sense_told_before_a_reply_reaches_it() -> None:
    judge = TextJudge(default_lexicon())
    assert _last(judge, "kill him") == ("violence",)
    assert _last(judge, "my brother took my charger again", "kill him") == ()
    # a harm said outright beyond the harmless phrase, and a farewell after a pet's care
    # (a harmless sense that does not reach into the message), stay raised
    threat = "im going to stab him tomorrow after school"
    assert _last(judge, "my brother took my charger again", threat) == ("violence",)
    farewell = ("take care of my dog ok", "and tell mum it wasnt her fault")
    assert _last(judge, *farewell) == ("suicide",)


def test_a_photo_and_a_compliment_on_it_are_no_pattern_without_another_sign() -> None:
    judge = TextJudge(default_lexicon())
    prom = ["send me a pic of ur prom dress", "one sec", "omg so pretty"]
    assert _typed(judge, prom) == ()
    # in one message, or with a third kind of sign, they are
    assert _typed(judge, ["ur so pretty send me a pic"]) == ("grooming",)
    assert _typed(judge, [*prom, "dont tell your mum"]) == ("grooming",)
    # flattery with another app is no everyday pair
    assert _typed(judge, ["ur so mature for your age", "lets talk on telegram"]) == ("grooming",)


def test_follow_says_nothing_of_a_message_alone_and_agrees_with_add() -> None:
    followed, added = Conversations(max_chars=20), Conversations(max_chars=20)
    steps = [
        ("amy", "chat", 0, "hi"),
        ("bob", "chat", 10, "hello"),
        ("amy", "chat", 60, "there"),
        ("amy", "chat", 70, "x" * 50),  # alone within the characters kept
        ("amy", "chat", 80, "ok"),  # and so is this beside it
        ("amy", "chat", 900, "later"),  # the window has passed
    ]
    alone = []
    for who, app, seconds, text in steps:
        at = T + timedelta(seconds=seconds)
        recent = followed.follow(who, app, at, text)
        joined = added.add(who, app, at, text)
        if recent is None:
            alone.append(text[:20])
            assert joined.messages == 1
            assert joined.text == text[:20]
        else:
            assert recent == joined
            assert recent.messages > 1
    assert alone == ["hi", "hello", "x" * 20, "ok", "later"]


def test_a_lesson_title_is_context_for_twenty_minutes() -> None:
    c = Conversations()
    c.note_title("amy", T, "Year 6 PSHE - Word", lesson=True)
    assert c.lesson("amy", T + timedelta(minutes=10)) == "Year 6 PSHE - Word"
    assert c.lesson("amy", T + timedelta(minutes=30)) is None
    assert c.lesson("bob", T) is None
    c.note_title("amy", T + timedelta(minutes=11), "YouTube", lesson=False)
    assert c.lesson("amy", T + timedelta(minutes=12)) is None


def _typed(judge: TextJudge, messages: list[str]) -> tuple[str, ...]:
    talk = Conversations()
    verdict = judge.judge("", TYPED)
    for i, message in enumerate(messages):
        recent = talk.add("amy", "chat", T + timedelta(seconds=30 * i), message)
        verdict = with_recent(judge, judge.judge(message, TYPED), recent, JUNIOR, None)
    return verdict.categories


def test_everyday_asks_in_separate_messages_are_no_pattern_without_another_sign() -> None:
    judge = TextJudge(default_lexicon())
    assert _typed(judge, ["send me a photo of the homework", "meet me at the library"]) == ()
    assert _typed(judge, ["dont tell your mum", "send me a photo"]) == ("grooming",)
    # a gift and a photo asked for in return are an exchange
    assert _typed(judge, ["i got u a giftcard for roblox", "send me a selfie back"]) == (
        "grooming",
    )
    assert _typed(judge, ["want free robux", "send me a photo", "meet me at the park"]) == (
        "grooming",
    )


def test_pieces_in_two_languages_are_not_one_sentence() -> None:
    judge = TextJudge(default_lexicon())
    assert _typed(judge, ["como fazer brigadeiro", "drug names for headaches"]) == ()
    assert _typed(judge, ["i want to", "kill", "myself"]) == ("suicide",)


def _last(judge: TextJudge, *messages: str) -> tuple[str, ...]:
    """What the last of ``messages``, typed 40 s apart by one pupil, raises."""
    c = Conversations()
    verdict = judge.judge("", TYPED, JUNIOR)
    for i, m in enumerate(messages):
        recent = c.add("amy", "chat", T + timedelta(seconds=40 * i), m)
        verdict = judge.judge(m, TYPED, JUNIOR)
        if recent.messages > 1:
            verdict = with_recent(judge, verdict, recent, JUNIOR, None)
    return verdict.categories


def test_the_pupils_own_side_of_grooming_makes_a_pattern() -> None:
    judge = TextJudge(default_lexicon())
    # promising secrecy, being alone, the camera agreed to, a contact's age doubted
    assert "grooming" in _last(judge, "i havent told my parents", "ok ill go on camera later")
    assert "grooming" in _last(judge, "you sound like an old man", "where do you want to meet")
    assert "grooming" in _last(judge, "he wants a pic of me", "ok but not till my mums out")
    assert "grooming" in _last(judge, "he always asks if im on my own", "he wants a pic of me")
    # sextortion met by the pupil: pleading and paying
    assert "grooming" in _last(judge, "i can pay you", "pls dont send it to my mum")
    # friends' talk with the same words
    assert _last(judge, "i wont tell anyone about the party", "bring balloons") == ()
    assert _last(judge, "please dont post that pic of me lol", "i look awful") == ()
    assert _last(judge, "please dont post that pic of me", "send me the homework pic") == ()


# Grooming told across two messages, each a sign of another kind: the pupil's own side in each
# language (promising to tell nobody, the camera or a picture offered, pleading after paying),
# and a pattern reported, a call put off, a debt, a contact's age.
PATTERNS = [
    ("nikomu nie powiedziałam", "dobra włączę kamerkę"),
    ("dam ci pieniądze", "tylko nie wrzucaj tego do internetu"),
    ("nu am zis nimanui", "ok iti trimit o poza"),
    ("não falei pra ninguém", "tá bom ligo a câmera"),
    ("no le he dicho nada a mi madre", "vale, enciendo la cámara"),
    ("kisi ko nahi bataya", "photo bhej rahi hoon"),
    ("main kise nu nahi dasya", "ok photo bhej dindi haan"),
    ("আমি কাউকে বলিনি", "ঠিক আছে ছবি পাঠাচ্ছি"),
    ("ما قلت لأحد", "طيب رح ابعت صورة"),
    ("cant talk my mums here", "ok i deleted our dms"),
    ("hes got a beard and a car", "he keeps saying he loves me"),
    ("he sent me money for fortnite", "now he says i owe him"),
    ("i cant facetime now", "ill ring u when my dad goes to bed"),
    ("ona ma 19 lat", "pisze że jestem śliczna"),
    ("parece un señor", "quiere vernos a solas"),
    ("tum bahut pyari ho", "kisi ko pata na chale"),
    ("يريد يشوفني", "أنا لوحدي في البيت"),
    ("ও আমার ভিডিও চায়", "কাউকে না বলতে বলেছে"),
    # a stranger claiming to know a parent; money then pictures; parents checking the phone
    ("a man said he knows my mum", "he wants to meet me at the shop"),
    ("mi-a cerut poze", "si sa nu le spun parintilor mei"),
    ("tu madre revisa tu móvil?", "háblame por whatsapp"),
    ("quiere que le mande fotos", "dice que si no se las manda a mis amigos"),
    ("ele quer que eu vá na casa dele", "não posso falar pra ninguém"),
    ("wo mujhe paise deta hai", "ab photo mangta hai"),
]
# Sextortion over messages in each language: the child's pictures kept, then sent to the
# child's own school, class or family unless paid, or by a deadline.
SEXTORTION = [
    ("ive still got your pics", "£100 in gift cards by tonight or your mum sees them"),
    ("he saved my pics", "he says hell put them in the class group"),
    ("mam twoje fotki", "wyślę je twoim rodzicom"),
    ("am pozele cu tine", "le trimit părinților tăi dacă nu plătești"),
    ("tengo fotos tuyas", "se las mando a tus padres"),
    ("tenho suas fotos", "se não me pagar posto no grupo da turma"),
    ("mere paas tumhari tasveerein hain", "warna sab ko bhej dunga"),
    ("mere kol teriyan photos ne", "nahi taan sab nu bhej du"),
    ("তোমার ছবি আমার কাছে আছে", "না হলে সবাইকে পাঠাবো"),
    ("عندي صورك", "إذا ما دفعت ببعتها لأهلك"),
]
# Friends' talk with the same words.
HARMLESS = [
    ("i still got ur pics from the sleepover", "they came out so nice"),
    ("you have 24 hours to finish the project", "send me a pic of the sheet"),
    ("mam twoje zdjęcia z wycieczki", "są super"),
    ("tengo tus fotos del viaje", "están geniales"),
    ("nie powiem nikomu o prezencie", "kupiłam kwiaty dla mamy"),
    ("no se lo he dicho a nadie", "la fiesta es el sábado"),
    ("im gonna kill u in roblox lol", "rematch tomorrow"),
    ("my dad is picking us up", "when hes finished work"),
    ("my mums friend is picking me up", "shes really nice"),
    ("me pide fotos del perro", "es muy mono"),
]


@pytest.fixture(scope="module")
def judge() -> TextJudge:
    return TextJudge(default_lexicon())


@pytest.mark.parametrize("messages", PATTERNS)
def test_grooming_across_messages_in_each_language(
    judge: TextJudge, messages: tuple[str, str]
) -> None:
    assert "grooming" in _last(judge, *messages)


@pytest.mark.parametrize("messages", SEXTORTION)
def test_sextortion_across_messages_in_each_language(
    judge: TextJudge, messages: tuple[str, str]
) -> None:
    assert "grooming" in _last(judge, *messages)


@pytest.mark.parametrize("messages", HARMLESS)
def test_friends_talk_with_the_same_words_raises_nothing(
    judge: TextJudge, messages: tuple[str, str]
) -> None:
    assert _last(judge, *messages) == ()


# The pupil's own age told as a whole message (the asking is typed on the other device),
# beside another sign in the messages typed close together.
AGE_TOLD = [
    ("im 12", "ok whats ur snap"),
    ("add me on snap", "yeah im 13 btw"),
    ("mam 12 lat", "ok, nikomu nie powiem"),
    ("tengo 11 años", "vale te mando una foto"),
    ("main 12 saal ki hoon", "kisi ko nahi bataya"),
    ("عمري 12", "ما قلت لأحد"),
]


@pytest.mark.parametrize("messages", AGE_TOLD)
def test_the_pupils_own_age_told_is_a_sign(judge: TextJudge, messages: tuple[str, str]) -> None:
    assert "grooming" in _last(judge, *messages)


def test_an_age_told_beside_nothing_else_or_a_time_is_no_sign(judge: TextJudge) -> None:
    assert _last(judge, "im 12 today!!", "party at the bowling alley at 3") == ()
    assert _last(judge, "meet u at the park", "im 12 mins away") == ()
    assert _last(judge, "im 12", "what did u get for q4") == ()


def test_help_asked_over_several_messages_is_marked_on_the_harm_they_tell() -> None:
    def said(judge: TextJudge, *messages: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What any of the messages raised, and marked as help, as the pipeline alerts."""
        c = Conversations()
        raised: dict[str, None] = {}
        helped: dict[str, None] = {}
        for i, message in enumerate(messages):
            recent = c.add("amy", "chat", T + timedelta(seconds=20 * i), message)
            verdict = with_recent(judge, judge.judge(message, TYPED, JUNIOR), recent, JUNIOR, None)
            raised.update(dict.fromkeys(verdict.categories))
            helped.update(dict.fromkeys(verdict.support))
        return tuple(raised), tuple(helped)

    blended = default_judge()
    ask = ("miss can i talk to u", "i keep thinking about hurting myself", "please dont tell")
    assert said(blended, *ask) == (("self_harm",), ("self_harm",))
    # the harm alone is raised, not as help; the lexicons alone read the ask to talk before it
    assert said(blended, "i keep thinking about hurting myself") == (("self_harm",), ())
    assert said(TextJudge(default_lexicon()), *ask)[1] == ("self_harm",)
    # a harm told only in a help join's words, the ask a message before it
    told = ("sir are you free at break", "my uncle hits me when im at his house")
    assert said(TextJudge(default_lexicon()), *told)[1] == ("violence",)
    # asked about nothing harmful: nothing raised
    calm = ("miss can i talk to u", "i keep forgetting my pe kit", "please dont tell my mum")
    assert said(blended, *calm) == ((), ())


def test_a_window_is_read_as_far_as_the_message_needs() -> None:
    judge = TextJudge(default_lexicon())
    c = Conversations()
    c.add("amy", "chat", T, "whats the homework")
    recent = c.add("amy", "chat", T + timedelta(minutes=3), "lol")
    # nothing typed close before a message with no sign: the message alone
    assert window_read(recent, signalled(judge.judge("lol", TYPED, JUNIOR))) is None
    assert with_recent(judge, v := judge.judge("lol", TYPED, JUNIOR), recent, JUNIOR, None) is v
    recent = c.add("amy", "chat", T + timedelta(minutes=4), "send me a photo")
    assert signalled(judge.judge("send me a photo", TYPED, JUNIOR))
    # a message with a sign: the whole window, and how many were typed close together
    assert window_read(recent, True) == (("whats the homework", "lol", "send me a photo"), 2)
    # without: the messages typed close together only
    assert window_read(recent, False) == (("lol", "send me a photo"), 0)
    assert signalled(judge.judge("im 12", TYPED, JUNIOR))  # the pupil's own age told


def test_a_join_told_over_messages_typed_close_together_is_raised() -> None:
    judge = TextJudge(default_lexicon())
    told = ("have u read the pdf i sent", "it explains why they need removing", "we meet thursday")
    assert _last(judge, *told) == ("extremism",)
    farewell = ("are you online rn", "thanks for always being there", "bye everyone")
    assert _last(judge, *farewell) == ("suicide",)
    # each part alone, or a part with an everyday twin, raises nothing
    assert _last(judge, "have u read the pdf i sent", "we meet thursday after school") == ()
    assert _last(judge, "the old shelves need removing", "we meet thursday after school") == ()
    # only a join's parts are read together: an act beside a frame in another message is not
    everyday = ("i really want to go to the party this weekend", "mum has sleeping tablets")
    assert _last(judge, *everyday) == ()
    # a help ask before the harm is left to the help reading: help, never a risk beside it
    asked = ("miss are you free after registration", "my stepdad slaps me when mum is out")
    c = Conversations()
    verdict = judge.judge("", TYPED, JUNIOR)
    for i, m in enumerate(asked):
        recent = c.add("amy", "chat", T + timedelta(seconds=40 * i), m)
        verdict = with_recent(judge, judge.judge(m, TYPED, JUNIOR), recent, JUNIOR, None)
    assert verdict.support
    assert "violence" not in set(verdict.categories) - set(verdict.support)
