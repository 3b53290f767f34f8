"""The text judgement: frames joined to acts, explicit words, grooming patterns, harmless
senses, help seeking, lesson context, age bands and languages; the shared dev corpus."""

from __future__ import annotations

import pytest

from monitord.classify.textrisk.corpus import judge_item, passes, read_corpus
from monitord.classify.textrisk.judge import (
    ADULT,
    INFANT,
    JUNIOR,
    SEARCH,
    TITLE,
    TYPED,
    TextJudge,
    asks_in,
)
from monitord.classify.textrisk.lexicon import default_lexicon
from monitord.classify.textrisk.normal import readings
from tests.conftest import SHARED

DEV = SHARED / "data" / "texts" / "dev-corpus.tsv"


@pytest.fixture(scope="module")
def judge() -> TextJudge:
    return TextJudge(default_lexicon())


def test_a_method_frame_joined_to_an_act_is_over_for_a_pupil(judge: TextJudge) -> None:
    v = judge.judge("how many paracetamol does it take to die", band=JUNIOR)
    assert v.categories == ("suicide",)
    reasons = " ".join(v.scores[0].reasons)
    assert 'frames it (asking for a method) joined to "' in reasons


def test_an_act_alone_is_not_over_and_a_harmless_object_lowers_it(judge: TextJudge) -> None:
    assert judge.judge("knife skills for kids cooking").categories == ()
    assert judge.judge("how to kill weeds in the garden").categories == ()
    assert judge.judge("how to make a knife at home to hurt someone").categories == ("violence",)


def test_a_harm_said_outright_and_asked_as_a_method_stays_asked(judge: TextJudge) -> None:
    # a harmless sense beside it lowers it, the method asked lifts it again
    for text in (
        "how to stab someone with a kitchen knife",
        "best way to stab someone with a bread knife",
    ):
        v = judge.judge(text, SEARCH, JUNIOR)
        assert v.categories == ("violence",), text
        assert any("asking for a method" in r for s in v.scores for r in s.reasons), text
    # a time beside a game's threat is no method: still harmless
    assert judge.judge("zabije cie w fifie dzisiaj haha", TYPED).categories == ()
    assert judge.judge("how do sharks kill people", SEARCH, JUNIOR).categories == ()


def test_context_said_before_and_apart_does_not_lower_a_pupils_own_life(
    judge: TextJudge,
) -> None:
    """A pet, a grandparent or a game named before wanting to die, apart from it, is a topic
    or a reason, not a sense of the words; close by or after, it still lowers."""
    v = judge.judge("my dog died and i want to kill myself", kind="typed_text")
    assert v.categories == ("suicide",)
    (score,) = [s for s in v.scores if s.category == "suicide"]
    assert any("said before the harm and apart from it: 0" in r for r in score.reasons)
    assert judge.judge("fortnite later? i want to kill myself").categories == ("suicide",)
    assert judge.judge("me corté el pelo ayer", kind="typed_text").categories == ()
    assert judge.judge("this game is so hard i want to die lol").categories == ()
    assert judge.judge("my dog died last week and i miss him so much").categories == ()


def test_explicit_words_are_over_for_everyone_topic_words_for_pupils(judge: TextJudge) -> None:
    assert judge.judge("i want to kill myself", band=ADULT).categories == ("suicide",)
    assert judge.judge("suicide", band=JUNIOR).categories == ("suicide",)
    assert judge.judge("suicide", band=ADULT).categories == ()


def test_slang_leetspeak_spacing_and_typos(judge: TextJudge) -> None:
    for text in ("im going to unalive myself", "k m s", "sewer slide methods", "su1c1de plan"):
        assert "suicide" in judge.judge(text).categories, text
    v = judge.judge("how many paracetmol to overdoes")
    assert "suicide" in v.categories
    assert any(h.typed == "paracetmol" for h in v.hits)


def test_emoji_carry_meaning(judge: TextJudge) -> None:
    assert "violence" in judge.judge("bringing my 🔪 tomorrow hes getting it", TYPED).categories


def test_one_grooming_signal_is_not_an_alert_two_kinds_are(judge: TextJudge) -> None:
    one = judge.judge("dont tell anyone ok", TYPED)
    assert one.categories == ()
    assert "one alone is not a pattern" in one.scores[0].reasons[-1]
    two = judge.judge("dont tell anyone ok, send me a pic", TYPED)
    assert two.categories == ("grooming",)
    assert set(two.signals) == {"secrecy", "photo"}
    for band in (INFANT, JUNIOR, ADULT):
        assert judge.judge("free robux", TYPED, band).categories == ()


def test_an_older_contact_is_a_signal_read_from_an_age(judge: TextJudge) -> None:
    v = judge.judge("hes 24 and wants to meet me", TYPED)
    assert v.categories == ("grooming",)
    assert set(v.signals) == {"older", "meet"}
    assert set(judge.judge("im 10 and can meet me at the park lol", TYPED).signals) == {"meet"}


def test_help_seeking_is_marked_as_support_for_pupils_only(judge: TextJudge) -> None:
    v = judge.judge("samaritans number", band=JUNIOR)
    assert v.support == ("suicide",)
    assert v.support_seeking
    assert judge.judge("samaritans number", band=ADULT).categories == ()


def test_idioms_and_grief_are_harmless(judge: TextJudge) -> None:
    for text in ("this homework is killing me lol", "i nearly died laughing", "my nan died"):
        assert judge.judge(text, TYPED).categories == (), text


def test_a_lesson_open_beside_a_search_lowers_topic_words_not_intent(judge: TextJudge) -> None:
    lesson = "Drugs and alcohol - PSHE Year 6 - Word"
    assert judge.judge("cannabis").categories == ("drugs",)
    v = judge.judge("cannabis", lesson=lesson)
    assert v.categories == ()
    assert v.context == (f'a lesson document was open: "{lesson}"',)
    assert judge.judge("i want to kill myself", lesson=lesson).categories == ("suicide",)


def test_school_named_in_a_plan_or_purchase_is_no_lesson(judge: TextJudge) -> None:
    assert judge.judge("o sa-l omor maine la scoala", TYPED).categories == ("violence",)
    assert judge.judge("knife crime assembly at school today", TYPED).categories == ()


def test_help_asked_about_a_harm_is_marked_as_help(judge: TextJudge) -> None:
    v = judge.judge("how do i talk to someone about feeling suicidal")
    assert v.support == ("suicide",)


def test_a_harm_told_beside_an_ask_is_help_whatever_its_words(judge: TextJudge) -> None:
    # the harm the lexicons raise, told many words from the ask, in any of the languages
    v = judge.judge("my friend took a whole packet of paracetamol last night, who do i tell", TYPED)
    assert v.support == ("suicide",)
    assert any("asks whom to tell or what to do" in r for s in v.scores for r in s.reasons)
    told = "my coach keeps touching my leg in the car and says not to tell, what should i do"
    assert judge.judge(told, TYPED).support == ("grooming",)
    assert judge.judge("mera chacha mainu maarda hai, main kisnu dassan", TYPED).support
    # the pupil's own threat or a secret kept is no help asked; nor is an ask about nothing
    threat = judge.judge("if you tell miss ill smash your face in at break", TYPED)
    assert threat.categories
    assert not threat.support
    kept = judge.judge("a man from roblox wants to meet me and said not to tell my mum", TYPED)
    assert kept.categories == ("grooming",)
    assert not kept.support
    assert judge.judge("my dog wont eat anything what should i do", TYPED).categories == ()
    assert judge.judge("what should i do if my uncle keeps hitting me", TYPED, ADULT).support == ()


def test_self_harm_and_farewells_told_without_their_words(judge: TextJudge) -> None:
    hidden = "wearing my hoodie all summer so no one sees my arms"
    assert judge.judge(hidden, TYPED).categories == ("self_harm",)
    assert judge.judge("ill just say the cat scratched me", TYPED).categories == ("self_harm",)
    assert judge.judge("the cat scratched me when i picked her up", TYPED).categories == ()
    farewell = "let my sister have my ipad, i wont be needing it"
    assert judge.judge(farewell, TYPED).categories == ("suicide",)
    assert judge.judge("you can have my old phone, i wont be needing it", TYPED).categories == ()
    assert judge.judge(
        "dadle mi móvil y mi bici a mi hermano, ya no los voy a necesitar"
    ).categories
    assert (
        judge.judge("goodbye everyone, im moving to a new school after half term").categories == ()
    )


def test_a_harmless_word_inside_a_harm_said_in_many_words_does_not_lower_it(
    judge: TextJudge,
) -> None:
    # "phone" alone is a flat battery; between a farewell's parts it is what is given away
    v = judge.judge("mera phone aur cycle chhote bhai ko de dena, mujhe ab zaroorat nahi", TYPED)
    assert v.categories == ("suicide",)
    assert not any("harmless" in r for s in v.scores for r in s.reasons)
    # a harmless phrase still reads the words around it ("a lift home" is no plan)
    lift = "sort him out with a lift home after school, his mum said its fine"
    assert judge.judge(lift, TYPED).categories == ()


def test_requests_in_the_other_languages_join_across_the_words_between(
    judge: TextJudge,
) -> None:
    # "don't tell your family, and send me your picture": the Arabic "and" and "to me"
    assert judge.judge("لا تخبر اهلك وارسل لي صورتك", TYPED).categories == ("grooming",)
    assert judge.judge("nu le spune parintilor, trimite-mi o poza", TYPED).categories == (
        "grooming",
    )
    # a harmless secret and a photo of homework stay harmless
    assert judge.judge("nie mów mamie, to niespodzianka na urodziny", TYPED).categories == ()
    assert judge.judge("mandame la foto de los deberes", TYPED).categories == ()


def test_a_window_title_needs_more_than_a_search(judge: TextJudge) -> None:
    assert judge.judge("suicide", TITLE).categories == ()
    assert "suicide" in judge.judge("how to kill yourself painlessly", TITLE).categories


def test_other_languages_count_when_the_text_is_in_them(judge: TextJudge) -> None:
    v = judge.judge("jak popełnić samobójstwo")
    assert v.categories == ("suicide",)
    assert v.language.code == "pl"
    assert judge.judge("khudkushi kaise karte hain").language.code == "ur"
    # A Romanian word that is English slang is read as Romanian in a Romanian text.
    assert judge.judge("cum să desenez o pisică").categories == ()


def test_an_unknown_band_is_refused(judge: TextJudge) -> None:
    with pytest.raises(ValueError, match="unknown age band"):
        judge.judge("x", band="toddler")


def test_every_line_of_the_shared_dev_corpus_passes(judge: TextJudge) -> None:
    items = read_corpus(DEV)
    assert len(items) >= 50
    failed = [
        (i.where, i.expected, i.text, judge_item(judge, i).categories)
        for i in items
        if not passes(i, judge_item(judge, i))
    ]
    assert failed == []


def test_joins_read_what_is_said_in_many_words(judge: TextJudge) -> None:
    v = judge.judge("honestly my family would be better off if i disappeared", TYPED)
    assert v.categories == ("suicide",)
    assert "better off … if i disappeared" in " ".join(v.scores[0].reasons)
    v = judge.judge("can you take another pic of yourself, are your parents home", TYPED)
    assert v.categories == ("grooming",)
    assert set(v.signals) == {"photo", "alone"}
    # one part alone says nothing
    assert not judge.judge("can you send it to me", TYPED).scores


def test_a_relatives_age_is_no_older_contact(judge: TextJudge) -> None:
    for family, contact in (
        ("wujek ma 30 lat, nie mów mamie", "on ma 30 lat, nie mów mamie"),
        ("vărul meu are 20 de ani, trimite-mi poze", "are 20 de ani, trimite-mi poze"),
        ("mi tío tiene 25 años, no le digas a tu madre", "tiene 25 años, no le digas a tu madre"),
    ):
        assert "older" not in judge.judge(family, TYPED).signals, family
        assert "grooming" in judge.judge(contact, TYPED).categories, contact


def test_asking_a_childs_age_is_a_signal_beside_others(judge: TextJudge) -> None:
    assert not judge.judge("how old are you", TYPED).categories
    v = judge.judge("how old are you? send a selfie", TYPED)
    assert v.categories == ("grooming",)
    assert set(v.signals) == {"age", "photo"}


def test_an_idiom_that_shares_a_word_with_a_hit_claims_it(judge: TextJudge) -> None:
    assert not judge.judge("im going to kill it at sports day", TYPED).categories
    assert judge.judge("im going to kill him at sports day", TYPED).categories == ("violence",)


def test_lesson_words_inside_a_harmful_phrase_are_no_lesson(judge: TextJudge) -> None:
    v = judge.judge("how to join the english defence league")
    assert v.categories == ("extremism",)
    assert not v.context


def test_help_sought_for_children_is_still_help(judge: TextJudge) -> None:
    v = judge.judge("eating disorder helpline for kids")
    assert v.support == ("self_harm",)


def test_words_of_other_languages_change_their_endings(judge: TextJudge) -> None:
    assert "self_harm" in judge.judge("wczoraj znowu pocięłam sobie ręce", TYPED).categories
    assert "suicide" in judge.judge("nu mai vreau să exist", TYPED).categories
    assert not judge.judge("me corté el pelo ayer", TYPED).categories


def test_a_phrase_listed_with_and_without_accents_counts_once(judge: TextJudge) -> None:
    v = judge.judge("zabije cie w fifie dzisiaj haha", TYPED)
    assert v.categories == ()
    assert judge.judge("zabije cie jutro", TYPED).categories == ("violence",)


def test_hurting_oneself_and_being_alone_are_joined_in_every_script(judge: TextJudge) -> None:
    for text in ("apni kalai kaat li", "নিজেকে কেটেছি", "ودي اموت", "ਮੈਂ ਮਰ ਜਾਣਾ ਚਾਹੁੰਦਾ"):
        assert judge.judge(text, TYPED).categories, text
    assert judge.judge("tá sozinha? manda uma foto", TYPED).categories == ("grooming",)
    # a hand cut while cooking is no self-harm
    assert judge.judge("হাত কেটে গেছে ছুরি দিয়ে রান্না করতে", TYPED).categories == ()


def test_an_adult_age_is_read_past_fillers_and_after_a_childs(judge: TextJudge) -> None:
    v = judge.judge("same im 11 . ngl im really 27 . ur mum wouldnt understand us", TYPED)
    assert "grooming" in v.categories
    assert set(v.signals) == {"older", "isolation"}
    assert judge.judge("im 11 and my sister is 9", TYPED).categories == ()


def test_news_reports_courts_and_natural_killers_are_not_threats(judge: TextJudge) -> None:
    assert judge.judge("how do sharks kill people").categories == ()
    assert judge.judge("teen jailed for stabbing sky news").categories == ()
    assert judge.judge("ill stab him i dont care if im jailed", TYPED).categories == ("violence",)


def test_getting_round_the_filter_is_filter_bypass(judge: TextJudge) -> None:
    assert judge.judge("how do i get past the securly block").categories == ("filter_bypass",)
    assert judge.judge("how to get a vpn on my school ipad").categories == ("filter_bypass",)
    # games sites mirrored to dodge the school's filter are a way round it
    assert judge.judge("unblocked games 76 slope").categories == ("filter_bypass",)
    assert judge.judge("unblocked games").categories == ("filter_bypass",)


def test_help_asked_about_being_pressured_is_support(judge: TextJudge) -> None:
    v = judge.judge("what should i do if a man is blackmailing me")
    assert "grooming" in v.support


# Phenomena of the other languages, each in phrasings of its own (not a probe's): hiding the
# talk itself, a picture without clothes or for a gift, threats to share pictures, no point in
# living, burning oneself, hiding marks, beatings and jumps planned, Arabizi and Arabic clitics;
# and harmless texts sharing their words (a surprise, dying of hunger, a bread knife, "el"
# folded into "él", notes for a test, a train, comforting a friend, a swimming pool).
OTHER_LANGUAGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("grooming", TYPED): (
        "nie mow tacie ze piszemy",
        "nu-i spune mamei ca ne scriem",
        "no les digas a tus viejos que chateamos",
        "nao fala pra sua mae que a gente se fala",
        "abbu ko na batao hamari baatein",
        "zrob zdjecie w samej bieliznie",
        "ek pic bhejo baghair kapron ke",
        "jesli nie przeslesz fotki to cala klasa sie dowie",
        "daca nu mai trimiti poze le public pe net",
        "agar video nahi bheja to internet pe daal dunga",
        "si no me pasas mas fotos las subo al grupo",
        "te pago 20 euros si me mandas una foto",
        "amar boyosh 31 tomar bari kothay",
        "que tienes puesto ahora? pon la camara",
        "chcesz zarobic? tylko nikomu ani slowa",
        # a child's "12 yo" and then a Spanish adult's "yo 23"
        "12 yo 23 pasame tu insta",
    ),
    ("suicide", TYPED): (
        "n-are rost sa mai traiesc",
        "jeene ka koi faida nahi",
        "nao vale a pena viver",
        "no tiene sentido seguir viviendo",
        "رح اتخلص من حياتي",
        "ana bade amout",
        "me voy a tirar del puente esta noche",
        "ami gole dori dibo",
        "quero dormir pra sempre e nunca mais acordar",
        "zegnajcie, jestem dla was ciezarem",
        "alvida dosto main sab pe bojh ban gaya",
    ),
    ("suicide", SEARCH): ("jak zrobic petle na szyje", "dosis letal de ibuprofeno"),
    ("self_harm", TYPED): (
        "me quemé los brazos con un cigarro",
        "zawsze mam dlugi rekaw zeby nikt nie widzial",
        "nie jadlam nic od wczoraj zeby schudnac",
        "me pego en la cabeza hasta que me duele",
    ),
    ("violence", TYPED): (
        "jutro po lekcjach go pobijemy",
        "le vamos a dar una paliza al de segundo",
    ),
    ("extremism", SEARCH): ("كيف اروح لداعش",),
    ("", TYPED): (
        "nie mow mamie o prezencie",
        "no vale la pena ver esa peli",
        "ana rah amout mn el jo3",
        "بابا عم يقطع الخبز بالسكين",
        "mi papa corta el pan con el cuchillo",
        "wystraszylam sie na smierc",
        "si no me mandas los apuntes suspendo",
        "mama mi-a luat telefon nou",
        "pociag przyjechal na czas",
        "pocieszylam kolezanke",
        "me tiro a la piscina",
        "petla while w javie",
        "el ahorcado con palabras faciles",
        "adios clase nos vemos el lunes",
        "wczoraj byla bomba impreza u oli",
        "me di un golpe con la mesa",
        "pistolet na wode dla dzieci",
        "ami 20 taka dibo",
        "eu 22 reais",
    ),
}


@pytest.mark.parametrize(
    ("expected", "kind", "text"),
    [(e, k, t) for (e, k), texts in OTHER_LANGUAGES.items() for t in texts],
)
def test_phenomena_of_the_other_languages(
    judge: TextJudge, expected: str, kind: str, text: str
) -> None:
    assert judge.judge(text, kind).categories == ((expected,) if expected else ())


def test_words_written_onto_others_still_say_what_they_say(judge: TextJudge) -> None:
    # Polish "send" with any prefix; the Romanian article on an app's name
    v = judge.judge("jestes taka sliczna, podeslij mi pare fotek", TYPED)
    assert v.categories == ("grooming",)
    assert "private_app" in judge.judge("da-mi whatsappul tau", TYPED).signals
    # a haircut typed in Urdu and English is not cutting oneself
    assert judge.judge("main ne kal hair cutting ki", TYPED).categories == ()


def test_a_word_of_another_language_that_is_also_english_does_not_make_a_text_foreign(
    judge: TextJudge,
) -> None:
    # "me", a Spanish and Portuguese frame and marker, is one vote, not two
    assert judge.judge("the puppy keeps biting and scratching me", TYPED).categories == ()
    assert judge.judge("me corto los brazos", TYPED).categories == ("self_harm",)


def test_a_friends_harm_told_in_the_third_person(judge: TextJudge) -> None:
    assert judge.judge("my mate keeps cutting himself", TYPED).categories == ("self_harm",)
    assert judge.judge("he said hes gonna kill himself tonight", TYPED).categories == ("suicide",)
    assert judge.judge("how did the emperor kill himself").categories == ()


def test_a_count_of_tablets_no_dose_holds_is_an_act_that_taking_joins(judge: TextJudge) -> None:
    assert judge.judge("swallowed 15 of the paracetamol in the drawer", TYPED).categories == (
        "suicide",
    )
    assert judge.judge("i take 2 paracetamol for a headache", TYPED).categories == ()
    assert judge.judge("box of 32 ibuprofen tablets price").categories == ()


def test_a_number_that_lost_its_plus_is_only_a_number(judge: TextJudge) -> None:
    assert judge.judge("my cousin turns 18 next week she can drive", TYPED).categories == ()


def test_what_someone_asked_of_the_pupil_is_read_as_they_said_it(judge: TextJudge) -> None:
    assert readings("she keeps telling me to send her my pics")[-1].endswith(
        "send me your pictures"
    )
    v = judge.judge("this guy wants me to come to his house and not tell my mum", TYPED)
    assert v.categories == ("grooming",)
    # the pupil's own words are not turned round
    assert readings("i said i want to go home") == ("i said i want to go home",)


def test_a_quantity_of_pills_in_words_is_a_count(judge: TextJudge) -> None:
    assert judge.judge("he swallowed a handful of tablets", TYPED).categories == ("suicide",)
    assert judge.judge("she took loads of paracetamol for her cold", TYPED).categories == ()


# Phenomena first seen in probe 23, each in phrasings of its own (not the probe's).


def test_a_single_words_harmless_sense_keeps_to_its_own_category(judge: TextJudge) -> None:
    # "sweets" and "makeup" are harmless as food and costume for self-harm, not as a gift
    v = judge.judge("she said shed get me makeup if i sent a selfie", TYPED)
    assert v.categories == ("grooming",)
    assert set(v.signals) == {"gift", "photo"}
    assert judge.judge("he said hed get me sweets if i sent a pic", TYPED).categories == (
        "grooming",
    )
    assert judge.judge("what happens if you eat too many sweets").categories == ()


def test_text_speak_of_one_letter_is_read_as_words(judge: TextJudge) -> None:
    assert judge.judge("how old r u? u r so pretty", TYPED).categories == ("grooming",)
    assert judge.judge("r u ok? u seemed sad", TYPED).categories == ()


def test_slang_for_suicide_in_its_forms_and_dealers_by_name(judge: TextJudge) -> None:
    assert judge.judge("gonna unaliv tonight", TYPED).categories == ("suicide",)
    assert judge.judge("unalivin myself after school", TYPED).categories == ("suicide",)
    assert judge.judge("anyone know a plug in leeds").categories == ("drugs",)
    assert judge.judge("how do i plug in my xbox").categories == ()
    assert judge.judge("is there a plug round here i need to charge my phone").categories == ()


def test_help_asked_for_a_feeling_or_for_a_friend_is_support(judge: TextJudge) -> None:
    assert judge.judge("who can i talk to about my anxiety").support
    assert judge.judge("how can i help my friend who cuts herself").support == ("self_harm",)
    assert judge.judge("how do i help my friend whos sad").categories == ()


def test_telling_someone_else_to_die_is_bullying_and_dead_to_me_is_not(judge: TextJudge) -> None:
    assert judge.judge("tell him to kys lol", TYPED).categories == ("bullying",)
    assert "bullying" in judge.judge("he can go unalive himself", TYPED).categories
    assert judge.judge("youre dead to me if you spoil the ending", TYPED).categories == ()


def test_18_plus_asked_for_in_pictures_is_pornography_and_a_count_is_not(
    judge: TextJudge,
) -> None:
    assert judge.judge("18+ movies free").categories == ("pornography",)
    assert judge.judge("videos +18 gratis").categories == ("pornography",)
    assert judge.judge("there are 18 videos in this playlist").categories == ()
    assert judge.judge("is fortnite 18+").categories == ()


def test_phenomena_of_probe_26_in_phrasings_of_their_own(judge: TextJudge) -> None:
    assert judge.judge("i call shotgun on the way home", TYPED).categories == ()
    assert judge.judge("where to buy cream chargers").categories == ("drugs",)
    assert judge.judge("does snus give you a buzz").categories == ("drugs",)
    assert judge.judge("how to clear history on school chromebook").categories == ("filter_bypass",)
    assert judge.judge("my online friend is grooming me i think", TYPED).support
    assert judge.judge("would i die if i jumped off the top floor").categories == ("suicide",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # abuse typed at another pupil, in each language
        ("nikt cię nie lubi idź stąd", ("bullying",)),
        ("todo mundo te odeia sai daqui", ("bullying",)),
        ("الكل يكرهك", ("bullying",)),
        ("sab tumse nafrat karte hain", ("bullying",)),
        ("তোকে কেউ পছন্দ করে না", ("bullying",)),
        ("ele se mata de rir", ()),
        # a Polish call for the white race, and help asked for wanting to die
        ("białą rasę trzeba obronić", ("extremism",)),
        ("lekcja o rasizmie", ()),
        # a substitute for a blade, every tablet of a named medicine, harmless hoops and cats
        ("what else can i use instead of a razor", ("self_harm",)),
        ("is 30 fluoxetine enough", ("suicide",)),
        ("did you take all your tablets today", ()),
        ("shoot some hoops after school", ()),
        ("my cat scratched my arm", ()),
    ],
)
def test_phenomena_of_probe_27_in_phrasings_of_their_own(
    judge: TextJudge, text: str, expected: tuple[str, ...]
) -> None:
    assert judge.judge(text, TYPED).categories == expected


def test_help_asked_in_polish_for_wanting_to_die_is_support(judge: TextJudge) -> None:
    assert judge.judge("do kogo zadzwonić gdy chcę umrzeć").support == ("suicide",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i wont be a burden to anyone for much longer", "suicide"),
        ("i left a note for my mum in case i go through with it", "suicide"),
        ("whats the least painful way to die", "suicide"),
        ("hurting myself is the only thing that helps", "self_harm"),
        ("my tutor keeps messaging me at night and said dont tell my parents", "grooming"),
        ("he said hed give me money if i met him", "grooming"),
        ("od on edibles how many", "drugs"),
        ("they control the media wake up", "extremism"),
        ("imagine having no friends lol", "bullying"),
        ("how to access blocked websites on school wifi", "filter_bypass"),
    ],
)
def test_phenomena_of_probe_29_in_phrasings_of_their_own(
    judge: TextJudge, text: str, expected: str
) -> None:
    assert expected in judge.judge(text, TYPED).categories


def test_an_idiom_of_annoyance_and_a_painless_tattoo_are_harmless(judge: TextJudge) -> None:
    assert judge.judge("i could kill her shes so annoying lol", TYPED).categories == ()
    assert judge.judge("whats the least painful way to get a tattoo").categories == ()


@pytest.mark.parametrize(
    "text",
    [
        "i havent told my mum about my detention yet",
        "please dont post it until i fix my hair",
        "sorry cant talk my mum is here shes helping with homework",
        "i owe him a tenner for the cinema",
        "my sister is 18+ so she can drive",
        "my coach messages me about training at night before games",
        "what is the least painful way to remove a plaster",
        "imagine having a dog that talks",
        "the only thing that helps my headache is sleep",
        "she should just ask the teacher",
        "on ma 15 lat i jest moim bratem",
        "kill you in chess next time",
    ],
)
def test_everyday_words_of_the_new_signals_alone_raise_nothing(judge: TextJudge, text: str) -> None:
    assert judge.judge(text, TYPED).categories == ()


@pytest.mark.parametrize(
    ("text", "expected", "help"),
    [
        ("numer telefon zaufania dla dzieci", ("suicide",), True),
        ("najlepszy telefon dla dzieci", (), False),
        ("necesito el teléfono de ayuda", ("suicide",), True),
        ("vreau sa ma alatur statului islamic", ("extremism",), False),
        ("ਨੰਗੀਆਂ ਵੀਡੀਓ", ("pornography",), False),
        ("ਨੰਗੇ ਪੈਰ ਤੁਰਨਾ", (), False),
        ("co za bomba ten film", (), False),
    ],
)
def test_phenomena_of_probe_30_in_phrasings_of_their_own(
    judge: TextJudge, text: str, expected: tuple[str, ...], help: bool
) -> None:
    v = judge.judge(text)
    assert (v.categories, bool(v.support)) == (expected, help)


def test_food_cut_with_a_knife_is_harmless_in_every_language(judge: TextJudge) -> None:
    # asked as a method ("how to", "jak", "como"), a knife was a weapon, or in Portuguese,
    # Spanish and Romanian the cutting was self-harm, whatever was cut
    for text in (
        "how to cut an onion with a knife without crying",
        "jak pokroić chleb nożem",
        "cum tai ceapa cu cuțitul",
        "chaku se aloo kaise kaaten",
        "chaku naal aloo kive kattan",
        "chhuri diye mangsho kivabe katbo",
        "كيف اقطع الدجاج بالسكين",
        "como cortar pão com faca",
        "cómo cortar pollo con cuchillo",
    ):
        assert judge.judge(text, SEARCH, JUNIOR).categories == (), text
    # a plan or a cut arm stays what it is beside a food
    said = "im going to stab him with the bread knife tomorrow after school"
    assert judge.judge(said, TYPED, JUNIOR).categories == ("violence",)
    said = "me corto los brazos con el cuchillo de la carne cuando estoy triste"
    assert "self_harm" in judge.judge(said, TYPED, JUNIOR).categories
    # "mere" is Romanian apples and Urdu "my": no food in "everyone happy without me"
    assert "suicide" in judge.judge("sab mere bina khush rahenge", TYPED, JUNIOR).categories


def test_an_everyday_context_takes_the_phrase_it_is_near_as_harmless(judge: TextJudge) -> None:
    # a cut at Scouts, disappearing under the duvet, a doughnut, Eid's knife, pests, one tablet
    for text in (
        "whittling at scouts today, only cut myself once lol",
        "worst day ever i just want to disappear under my duvet",
        "ill kill you if you eat my doughnuts again",
        "na harcerstwie strugaliśmy patyki scyzorykiem, tylko raz się pocięłam",
        "en los scouts tallamos palos con la navaja, solo me corté una vez jaja",
        "eid pe dada abbu ne bakra zibah kiya, main ne chhuri pakri hui thi",
        "ঈদে দাদু খাসি জবাই করলেন, আমি ছুরি ধরে ছিলাম",
        "jak zabić mrówki w kuchni bez trucizny",
        "كيف اقتل النمل في المطبخ بدون سم",
        "tomo um comprimido de manhã pra asma como o médico mandou",
    ):
        v = judge.judge(text, TYPED)
        assert v.categories == (), (text, v.scores)
    v = judge.judge("whittling at scouts today, only cut myself once lol", TYPED)
    said = [h.entry.phrase for h in v.hits if h.entry.cls == "benign"]
    assert "at scouts … only cut myself" in said
    # the context is needed: the phrase alone, or said beyond it, is still the harm
    assert judge.judge("only cut myself once lol", TYPED).categories == ("self_harm",)
    assert judge.judge("i want to disappear forever, under my duvet", TYPED).categories == (
        "suicide",
    )
    assert judge.judge("at scouts i cut myself on purpose so i could feel something").categories
    assert judge.judge("eid ke din bakre wali chhuri se usay maar doonga", TYPED).categories == (
        "violence",
    )
    assert judge.judge("ill kill you if you eat lunch with her again", TYPED).categories == (
        "violence",
    )


def test_an_everyday_context_lowers_nothing_it_did_not_take(judge: TextJudge) -> None:
    # "wanted to disappear" is the context's, not a harm: the threat told 15 words on is whole
    said = (
        "so embarrassed i fell over in assembly and wanted to disappear lol but honestly "
        "every night i lie awake and i want to disappear and never come back"
    )
    assert judge.judge(said, TYPED).categories == ("suicide",)


def test_a_phrase_said_again_away_from_its_everyday_context_is_a_harm(judge: TextJudge) -> None:
    away = " anyway that was ages ago and not what this is about at all ok. "
    for context, harm, category in (
        ("ill kill you if you eat my chips lol.", "ill kill you tomorrow after school", "violence"),
        ("at scouts i only cut myself once.", "now i cut myself every night", "self_harm"),
    ):
        assert judge.judge(harm, TYPED).categories == (category,), harm
        assert judge.judge(context, TYPED).categories == (), context
        assert judge.judge(context + away + harm, TYPED).categories == (category,), harm
    # said twice, each time beside its context, it stays harmless
    twice = "ill kill you if you eat my chips, and ill kill you if you eat my pizza"
    assert judge.judge(twice, TYPED).categories == ()
    assert judge.judge(" ".join([twice, away, twice, away, twice]), TYPED).categories == ()


def test_a_harmless_phrase_does_not_lower_a_harm_said_outright_beside_it(
    judge: TextJudge,
) -> None:
    # "one tablet" is a dose, "without poison" no poison: neither lowers "kill myself"
    for text in (
        "i only take one tablet a day but i want to kill myself",
        "how to kill ants without poison, i want to kill myself",
    ):
        assert "suicide" in judge.judge(text, TYPED).categories, text


def test_a_game_said_not_to_be_one_is_a_threat_in_earnest(judge: TextJudge) -> None:
    game = "get on fortnite so i can shoot you in the head noob"
    assert judge.judge(game, TYPED).categories == ()
    for text in (
        "this isnt a game anymore, i know where you live and im going to shoot you",
        "to już nie gra, wiem gdzie mieszkasz i naprawdę cię zabiję",
        "esto ya no es un juego, sé dónde vives y te voy a pegar un tiro de verdad",
    ):
        assert "violence" in judge.judge(text, TYPED).categories, text


def test_a_wedding_explains_a_secret_between_friends_not_an_adults(judge: TextJudge) -> None:
    friends = "dont tell anyone about our dance for my sisters mehndi, lets practise on saturday"
    assert judge.judge(friends, TYPED).categories == ()
    # nor a picture asked for, nor a child alone, whatever surprise is named
    for text in (
        "its a surprise so dont tell your mum, send me a pic of you in the dress",
        "dont tell anyone about the wedding, are you home alone right now",
    ):
        assert judge.judge(text, TYPED).categories == ("grooming",), text
    adult = "dont tell anyone about the wedding, send me pics of you in your dress, im 25"
    v = judge.judge(adult, TYPED)
    assert v.categories == ("grooming",)
    assert any("not of this pattern" in r for s in v.scores for r in s.reasons)


def test_a_harm_told_in_code_is_explained_by_its_join_and_its_twin_stays_quiet(
    judge: TextJudge,
) -> None:
    # config/lexicon/*-coded.toml: each side alone is a match day, a homework group, sweets
    for text, category, said in (
        (
            "bring hockey sticks to the park friday, he wont know what hit him",
            "violence",
            "hockey sticks … wont know what hit him",
        ),
        ("tem bala pra sábado? pago no pix", "drugs", "tem bala … pago no pix"),
        ("dawla nasheed download without music", "extremism", "dawla … nasheed"),
        ("tírate del edificio, haznos ese favor", "bullying", "edificio … haznos ese favor"),
    ):
        v = judge.judge(text, TYPED)
        assert category in v.categories, text
        reasons = " ".join(r for s in v.scores for r in s.reasons)
        assert said in reasons, (text, reasons)
    for text in (
        "bring hockey sticks to the park friday, match starts at 4",
        "tem bala de goma pra festa de sábado? pago no pix",
        "nasheed without music for my cousins wedding",
        "tírate a la piscina primero, haznos ese favor",
    ):
        assert judge.judge(text, TYPED).categories == (), text


def test_a_lesson_word_inside_a_joined_threat_is_the_threats_not_a_lesson(
    judge: TextJudge,
) -> None:
    # "give him a lesson" in Romanian and Arabic, "after class" in Portuguese
    for text in (
        "îi dăm o lecție după școală la poartă",
        "بكرة بعد المدرسة عند البوابة بنعلمه درس",
        "amanhã depois da aula vamos dar-lhe uma lição no portão",
    ):
        v = judge.judge(text, TYPED)
        assert v.categories == ("violence",), text
        assert v.context == (), text
    # a lesson given is still a lesson, and a lesson word elsewhere still lowers a topic
    assert judge.judge("îi dăm o lecție de pian după școală, e talentat", TYPED).categories == ()
    assert judge.judge("profa ne dă o lecție de istorie după școală", TYPED).categories == ()
    lesson = judge.judge("lecție despre droguri", SEARCH)
    assert lesson.context
    assert lesson.categories == ()


def test_the_asks_of_messages_are_those_found_in_them_read_together(judge: TextJudge) -> None:
    """A conversation's earlier messages are asked for their asks again with each message
    typed after them, and each message's are kept from the first time: what is kept is what
    the messages read together give, in the same order, however often they are asked."""
    texts = tuple(
        readings(t)[0]
        for t in (
            "whats for lunch",
            "sir are you free at break",
            "my uncle hits me",
            "can i talk to you about it",
        )
    )
    language = judge.identify(texts[1], texts[1])
    whole = [h.entry.phrase for h in asks_in(judge.find(texts))]
    assert whole
    for _ in range(3):
        assert [h.entry.phrase for h in judge.asks(texts, language)] == whole
    assert [h.entry.phrase for h in judge.asks(texts[:1], language)] == []
