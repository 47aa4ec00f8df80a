import pytest

from corelib import errdefs


@pytest.mark.parametrize(("cls", "code", "status"), [
    (errdefs.NotFound, 5, 404), (errdefs.AlreadyExists, 6, 409), (errdefs.FailedPrecondition, 9, 409),
    (errdefs.InvalidArgument, 3, 400), (errdefs.NotImplemented, 12, 501), (errdefs.Unavailable, 14, 503),
    (errdefs.ResourceExhausted, 8, 500),
])
def test_codes(cls, code, status):
    err = cls("boom")
    assert errdefs.grpc_code_of(err) == code and errdefs.http_status_of(err) == status
    assert str(err) == "boom"


def test_round_trip_through_a_status_code():
    err = errdefs.from_grpc_code(5, "container x: not found")
    assert isinstance(err, errdefs.NotFound) and err.message == "container x: not found"
    assert type(errdefs.from_grpc_code(99, "?")) is errdefs.WhaleError
    assert errdefs.grpc_code_of(ValueError()) == 2 and errdefs.http_status_of(ValueError()) == 500
