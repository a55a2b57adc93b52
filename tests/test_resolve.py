from inference.resolve import SentencePrediction, is_anaphoric, resolve_article


def P(att, span, aff):
    return SentencePrediction(att, span, aff, {aff: 1.0})


def resolve(preds):
    return resolve_article(preds, "none", "author")


def test_pronouns_and_continued_quotes_take_the_named_source():
    out = resolve(
        [
            P("indirect", "a senior official in the movement", "hamas"),
            P("indirect", "the source", "hamas"),
            P("direct", "he", "pa"),  # the pronoun's own guess loses to its antecedent's side
            P("direct", None, "other"),
            P("none", None, "author"),
        ]
    )
    assert [o.mention for o in out] == ["a senior official in the movement"] * 4 + [None]
    assert [o.affiliation for o in out] == ["hamas"] * 4 + ["author"]


def test_a_pronoun_follows_the_latest_source_of_its_side():
    out = resolve(
        [
            P("indirect", "a Hamas official", "hamas"),
            P("indirect", "a Palestinian Authority official", "pa"),
            P("direct", "he", "pa"),
            P("indirect", "The official", "hamas"),
        ]
    )
    assert out[2].mention == "a Palestinian Authority official"
    assert out[3].mention == "a Hamas official"


def test_names_link_to_the_fuller_earlier_mention_but_never_to_a_later_one():
    out = resolve(
        [
            P("indirect", "Abu Marzouk", "hamas"),
            P("direct", "Hamas deputy leader Mousa Abu Marzouk", "hamas"),
            P("direct", "Abu Marzouk", "hamas"),
        ]
    )
    assert out[0].mention == "Abu Marzouk"
    assert out[1].mention == out[2].mention == "Hamas deputy leader Mousa Abu Marzouk"


def test_a_quote_named_only_after_it_takes_the_next_source():
    out = resolve([P("direct", None, "egypt"), P("direct", "Sameh Shoukry", "egypt")])
    assert out[0].mention == "Sameh Shoukry"


def test_is_anaphoric():
    assert is_anaphoric("he") and is_anaphoric("The official") and is_anaphoric("the senior source")
    assert not is_anaphoric("another official") and not is_anaphoric("the Egyptian minister Sameh Shoukry")
    assert not is_anaphoric("Abbas")
