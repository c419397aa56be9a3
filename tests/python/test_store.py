"""dolibak.store from Python: conditional writes with typed conflicts on every backend, and
the test stores shipped with the library (MemoryStore, FaultStore)."""
import threading

import pytest

import dolibak
import dolibak.store as store

MiB = 1024 * 1024


@pytest.fixture(params=["memory", "file", "s3"])
def any_store(request, tmp_path):
    if request.param == "memory":
        return store.MemoryStore("py")
    if request.param == "file":
        return store.open("file://" + str(tmp_path))
    s3 = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return store.open(f"s3://{bucket}/cas", endpoint=s3["endpoint"], region=s3["region"],
                      access_key=s3["access_key"], secret_key=s3["secret_key"],
                      addressing="path", part_size=5 * MiB, parallel_parts=2,
                      use_environment=False)


def test_conditional_writes_and_typed_conflicts(any_store):
    s = any_store
    etag = s.put_bytes("lock", b"one", no_overwrite=True)
    assert etag and s.head("lock")["etag"] == etag
    with pytest.raises(store.AlreadyExists, match="already exists"):
        s.put_bytes("lock", b"two", no_overwrite=True)
    assert issubclass(store.AlreadyExists, dolibak.Error)
    renewed = s.put_bytes("lock", b"one, renewed", if_match=etag)
    assert renewed != etag
    with pytest.raises(store.PreconditionFailed):
        s.put_bytes("lock", b"three", if_match=etag)
    with pytest.raises(store.PreconditionFailed):
        s.remove_if("lock", etag)
    assert s.get_bytes("lock") == b"one, renewed"
    s.remove_if("lock", renewed)
    assert s.head("lock") is None
    with pytest.raises(dolibak.ConfigError):
        s.put_bytes("lock", b"x", no_overwrite=True, if_match=renewed)


def test_memory_store_behaves_like_a_store():
    m = store.MemoryStore("unit")
    assert m.url == "mem://unit/"
    m.put_bytes("db/b", b"2")
    m.put_bytes("db/a", b"1")
    m.put_bytes("dbx", b"3")
    assert [o["key"] for o in m.list("db/")] == ["db/a", "db/b"]
    assert [o["key"] for o in m.list()] == ["db/a", "db/b", "dbx"]
    with pytest.raises(store.ObjectNotFound):
        m.get_bytes("missing")
    assert m.remove_many(["db/a", "never"]) == []
    assert m.cleanup(0) == 0


def test_fault_store_faults_hooks_and_counters():
    inner = store.MemoryStore()
    f = store.FaultStore(inner)
    assert f.url == inner.url

    f.fail("put", 1, "lose_response")
    with pytest.raises(dolibak.RemoteError, match="injected fault"):
        f.put_bytes("lock", b"ours", no_overwrite=True)
    assert inner.get_bytes("lock") == b"ours"  # performed, only the answer was lost

    f.fail("head", 2, "io_error", and_after=True)
    assert f.head("lock") is not None
    with pytest.raises(dolibak.IoError):
        f.head("lock")
    with pytest.raises(dolibak.IoError):
        f.head("lock")
    assert f.calls("head") == 3 and f.calls("put") == 1

    # A hook interleaves another run; it may call the store and raise nothing.
    seen = []
    f.hook("remove_if", 1, lambda: (seen.append("other run"),
                                    f.put_bytes("lock", b"theirs")))
    etag = inner.head("lock")["etag"]
    with pytest.raises(store.PreconditionFailed):
        f.remove_if("lock", etag)
    assert seen == ["other run"] and f.get_bytes("lock") == b"theirs"

    f.fail("get", f.calls("get") + 1, "already_exists")
    with pytest.raises(store.AlreadyExists):
        f.get_bytes("lock")
    with pytest.raises(dolibak.ConfigError):
        f.fail("nothing", 1, "transient")
    f.reset()
    assert f.calls("get") == 0 and f.get_bytes("lock") == b"theirs"


def test_fault_store_hook_from_another_thread():
    f = store.FaultStore(store.MemoryStore())
    hits = []
    f.hook("list", 1, lambda: hits.append(threading.get_ident()), and_after=True)
    threads = [threading.Thread(target=f.list) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(hits) == 4 and f.calls("list") == 4
