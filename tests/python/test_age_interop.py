"""age interop both ways: Debian's age CLI (1.1.1) decrypts what dolibak.io writes, and
dolibak.io decrypts what `age -r` and `age -p` write; tampering is detected.

`age -p` reads its passphrase from the terminal only: the tests run it on a pseudo-terminal
(Python's pty module) and type the passphrase there, so it never appears in an argv or an
environment.
"""
import hashlib
import os
import pty
import select
import shutil
import subprocess

import pytest

import dolibak

io = dolibak.io
AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
pytestmark = pytest.mark.skipif(
    AGE is None or AGE_KEYGEN is None,
    reason="the age CLI is not installed (tools/setup-debian installs it)")

CHUNK = 64 * 1024
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * 1024 * 1024 + 3]
PASSPHRASE = "un mot de passe assez long pour scrypt"


def payload(size):
    return os.urandom(size)


def run_on_tty(argv, answers, timeout=120):
    """Runs argv on a new pseudo-terminal, answering each passphrase prompt with the next
    answer; returns (exit status, what the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    shown = b""
    answered = 0
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], timeout)
            assert ready, "age did not finish in time; the terminal showed: %r" % shown
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            shown += data
            while shown.lower().count(b"passphrase") > answered and answered < len(answers):
                os.write(fd, answers[answered].encode() + b"\n")
                answered += 1
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown


@pytest.fixture
def age_key(tmp_path):
    """A key made by age-keygen: (identity file, recipient)."""
    key = tmp_path / "age-keygen.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run([AGE_KEYGEN, "-y", str(key)], check=True, capture_output=True,
                               text=True).stdout.strip()
    return key, recipient


def age_output(path):
    """What `age -d -o path` wrote: age 1.1.1 creates the file at its first write only, so
    an empty plaintext leaves none."""
    return path.read_bytes() if path.exists() else b""


def write_key_file(path, identity, recipient):
    path.write_text("# created by dolibak's tests\n# public key: %s\n%s\n"
                    % (recipient, identity))
    os.chmod(path, 0o600)


def test_keys_agree_with_age_keygen(tmp_path, age_key):
    key, recipient = age_key
    identities = [line for line in key.read_text().splitlines()
                  if line.startswith("AGE-SECRET-KEY-1")]
    assert len(identities) == 1
    assert io.age_recipient(identities[0]) == recipient
    identity, mine = io.age_generate_key()
    assert identity.startswith("AGE-SECRET-KEY-1") and mine.startswith("age1")
    write_key_file(tmp_path / "mine.txt", identity, mine)
    derived = subprocess.run([AGE_KEYGEN, "-y", str(tmp_path / "mine.txt")], check=True,
                             capture_output=True, text=True).stdout.strip()
    assert derived == mine
    with pytest.raises(dolibak.ConfigError):
        io.age_recipient(identity[:-1] + ("Q" if identity[-1] != "Q" else "P"))


@pytest.mark.parametrize("size", SIZES)
def test_age_decrypts_what_dolibak_writes_to_several_recipients(tmp_path, age_key, size):
    key, recipient = age_key
    identity, mine = io.age_generate_key()
    write_key_file(tmp_path / "mine.txt", identity, mine)
    plain = tmp_path / "plain.bin"
    data = payload(size)
    plain.write_bytes(data)
    enc = tmp_path / "plain.bin.age"
    io.age_encrypt_file(plain, enc, recipients=[recipient, mine])
    assert (os.stat(enc).st_mode & 0o777) == 0o600
    for k in (key, tmp_path / "mine.txt"):
        out = tmp_path / "out.bin"
        subprocess.run([AGE, "-d", "-i", str(k), "-o", str(out), str(enc)], check=True,
                       capture_output=True)
        assert age_output(out) == data
        if out.exists():
            out.unlink()
    # The in-memory form writes the same format.
    blob = io.age_encrypt(data, recipients=[recipient])
    got = subprocess.run([AGE, "-d", "-i", str(key)], input=blob, check=True,
                         capture_output=True).stdout
    assert got == data


@pytest.mark.parametrize("size", SIZES)
def test_dolibak_decrypts_what_age_writes(tmp_path, age_key, size):
    key, recipient = age_key
    identity, mine = io.age_generate_key()
    plain = tmp_path / "plain.bin"
    data = payload(size)
    plain.write_bytes(data)
    enc = tmp_path / "plain.bin.age"
    subprocess.run([AGE, "-r", recipient, "-r", mine, "-o", str(enc), str(plain)], check=True,
                   capture_output=True)
    out = tmp_path / "out.bin"
    io.age_decrypt_file(enc, out, identity_file=key)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert io.age_decrypt(enc.read_bytes(), identities=[identity]) == data
    other, _ = io.age_generate_key()
    with pytest.raises(io.AgeError) as excinfo:
        io.age_decrypt(enc.read_bytes(), identities=[other])
    assert excinfo.value.kind == "no_match"
    assert isinstance(excinfo.value, dolibak.FormatError)


@pytest.mark.parametrize("size", [0, CHUNK + 1, 3 * 1024 * 1024])
def test_passphrases_both_ways_through_a_terminal(tmp_path, size):
    plain = tmp_path / "plain.bin"
    data = payload(size)
    plain.write_bytes(data)
    # age -p asks twice (the passphrase, then its confirmation).
    by_age = tmp_path / "by-age.age"
    status, shown = run_on_tty([AGE, "-p", "-o", str(by_age), str(plain)],
                               [PASSPHRASE, PASSPHRASE])
    assert status == 0, shown
    out = tmp_path / "out.bin"
    io.age_decrypt_file(by_age, out, passphrase=PASSPHRASE)
    assert out.read_bytes() == data
    with pytest.raises(io.AgeError) as excinfo:
        io.age_decrypt(by_age.read_bytes(), passphrase=PASSPHRASE + "!")
    assert excinfo.value.kind == "no_match"
    # age's work factor (18) is above a limit of 17: refused before any scrypt work.
    with pytest.raises(io.AgeError) as excinfo:
        io.age_decrypt(by_age.read_bytes(), passphrase=PASSPHRASE, max_work_factor=17)
    assert excinfo.value.kind == "header"

    by_dolibak = tmp_path / "by-dolibak.age"
    io.age_encrypt_file(plain, by_dolibak, passphrase=PASSPHRASE)
    out2 = tmp_path / "out2.bin"
    status, shown = run_on_tty([AGE, "-d", "-o", str(out2), str(by_dolibak)], [PASSPHRASE])
    assert status == 0, shown
    assert age_output(out2) == data


def test_tampered_age_files_are_refused_and_leave_no_output(tmp_path, age_key):
    key, recipient = age_key
    plain = tmp_path / "plain.bin"
    data = payload(3 * CHUNK + 100)
    plain.write_bytes(data)
    enc = tmp_path / "plain.bin.age"
    subprocess.run([AGE, "-r", recipient, "-o", str(enc), str(plain)], check=True,
                   capture_output=True)
    blob = enc.read_bytes()
    header_end = blob.index(b"\n--- ") + 1
    header_end = blob.index(b"\n", header_end) + 1
    cases = {
        "stanza": (blob[:30] + bytes([blob[30] ^ 1]) + blob[31:], "header"),
        "mac": (blob[:header_end - 5] + bytes([blob[header_end - 5] ^ 1]) + blob[header_end - 4:],
                None),
        "nonce": (blob[:header_end + 3] + bytes([blob[header_end + 3] ^ 1])
                  + blob[header_end + 4:], "payload"),
        "last chunk": (blob[:-1] + bytes([blob[-1] ^ 1]), "payload"),
        "truncated at a boundary": (blob[:header_end + 16 + 3 * (CHUNK + 16)], "payload"),
        "truncated": (blob[:-7], "payload"),
        "appended": (blob + b"\0", "payload"),
    }
    for name, (bad, kind) in cases.items():
        with pytest.raises(io.AgeError) as excinfo:
            io.age_decrypt(bad, identity_file=key)
        if kind:
            assert excinfo.value.kind in (kind, "hmac", "no_match"), name
        src = tmp_path / "bad.age"
        src.write_bytes(bad)
        out = tmp_path / "out.bin"
        with pytest.raises(io.AgeError):
            io.age_decrypt_file(src, out, identity_file=key)
        assert not out.exists(), name
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == [], name
        # age itself refuses it too: the two agree.
        r = subprocess.run([AGE, "-d", "-i", str(key), "-o", os.devnull, str(src)],
                           capture_output=True)
        assert r.returncode != 0, name


def test_armored_files_are_refused_as_a_header_failure(tmp_path, age_key):
    key, recipient = age_key
    armored = subprocess.run([AGE, "-a", "-r", recipient], input=b"hello", check=True,
                             capture_output=True).stdout
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    with pytest.raises(io.AgeError) as excinfo:
        io.age_decrypt(armored, identity_file=key)
    assert excinfo.value.kind == "header"


def test_bad_arguments_are_config_errors(tmp_path):
    _, recipient = io.age_generate_key()
    with pytest.raises(dolibak.ConfigError):
        io.age_encrypt(b"x")
    with pytest.raises(dolibak.ConfigError):
        io.age_encrypt(b"x", recipients=[recipient], passphrase="both")
    with pytest.raises(dolibak.ConfigError):
        io.age_encrypt(b"x", recipients=["age1qqqq"])
    with pytest.raises(dolibak.ConfigError):
        io.age_decrypt(b"x")
    empty = tmp_path / "keys.txt"
    empty.write_text("# no key here\n")
    with pytest.raises(dolibak.ConfigError):
        io.age_decrypt(b"x", identity_file=empty)
