import fixture_app


def test_complete_is_deterministic():
    a = fixture_app.complete("hello world", 5)
    assert a == fixture_app.complete("hello world", 5)
    assert len(a.split()) == 5
    assert a != fixture_app.complete("hello there", 5)
