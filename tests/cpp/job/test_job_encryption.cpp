// Client-side encryption in the job layer (docs/encryption.md), through the simulated
// environment: objects stored as .age to the configured recipients, the manifest's digest of
// the ciphertext, the archive summary sealed, verify without and with the identity, restore
// with it and a clear error without it, key rotation, and the settings.
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/catalog/manifest.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/job/settings.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <fstream>

using namespace dolibak;

namespace {

TimePoint day(int d) {
    using namespace std::chrono;
    return sys_days{year{2026} / 4 / d} + hours{2};
}

struct Instance {
    store::MemoryStore mem{"encrypted"};
    sim::ManualClock clock{day(1)};
    sim::FakeHalf db{"db"}, docs{"docs"};
    sim::SimEnv env{mem, clock, db, docs};
    io::AgeKeyPair pair = io::age_generate_key();
    job::Config config = [this] {
        auto c = sim::sim_config();
        c.encryption.recipients = {pair.recipient};
        return c;
    }();

    std::string object(const std::string& key) {
        auto src = mem.get(key);
        return sim::slurp(*src);
    }
    catalog::Manifest manifest(TimePoint t) {
        return catalog::Manifest::from_json(
            object(catalog::make_store_key("", catalog::ObjectKind::manifest, t)));
    }
    /// A copy of `key` with one byte flipped at `at`.
    void flip(const std::string& key, std::size_t at) {
        std::string bytes = object(key);
        REQUIRE(at < bytes.size());
        bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
        mem.remove(key);
        auto sink = mem.put(key, {});
        sink->write(io::as_bytes(bytes));
        sink->finish();
    }
};

job::RestoreDbOptions restore_at(TimePoint t) {
    job::RestoreDbOptions o;
    o.which = format_timestamp(t);
    return o;
}

job::BackupOptions options(bool docs, bool force) {
    job::BackupOptions o;
    o.docs = docs;
    o.force = force;
    return o;
}

io::AgeIdentities identities_of(const Secret& id) {
    io::AgeIdentities ids;
    ids.x25519.push_back(id);
    return ids;
}

std::string decrypt(const std::string& file, const Secret& id) {
    io::MemorySource src{std::string_view(file)};
    io::AgeDecryptSource plain(src, identities_of(id));
    return sim::slurp(plain);
}

}  // namespace

TEST_CASE("with recipients every object is a .age file the identity decrypts") {
    Instance in;
    in.db.set_content("accounting rows");
    in.docs.set_content("invoice.pdf");
    job::Job j(in.config, in.env);
    const auto r = j.backup({});
    REQUIRE(r.ok());
    const auto m = in.manifest(r.time);
    for (const char* half : {"db", "docs"}) {
        INFO(half);
        const auto& h = m.halves.at(half);
        const auto key = catalog::parse_store_key(h.key);
        REQUIRE(key);
        CHECK(key->encrypted);
        CHECK(h.key.ends_with(".age"));
        CHECK(h.encryption == "age");
        // The digest and the size are the ciphertext's: verify checks them without the key.
        const std::string stored = in.object(h.key);
        CHECK(h.bytes == stored.size());
        CHECK(h.sha256 == io::sha256_hex(stored));
        CHECK(stored.rfind("age-encryption.org/v1\n", 0) == 0);
        // The summary is sealed, not in the clear.
        CHECK(h.archive_summary_json.empty());
        REQUIRE_FALSE(h.archive_summary_sealed.empty());
        CHECK(io::age_unseal(h.archive_summary_sealed, identities_of(in.pair.identity)) ==
              R"({"fake":true})");
    }
    CHECK(in.db.unframe(decrypt(in.object(m.halves.at("db").key), in.pair.identity)) ==
          "accounting rows");
    CHECK(in.docs.unframe(decrypt(in.object(m.halves.at("docs").key), in.pair.identity)) ==
          "invoice.pdf");
    // The manifest holds neither the content nor the summary's text.
    const std::string manifest_text =
        in.object(catalog::make_store_key("", catalog::ObjectKind::manifest, r.time));
    CHECK(manifest_text.find("accounting") == std::string::npos);
    CHECK(manifest_text.find("\"fake\":true") == std::string::npos);
}

TEST_CASE(
    "verify without the identity checks the ciphertext; with it decrypts; a flipped byte "
    "is found either way") {
    Instance in;
    job::Job j(in.config, in.env);
    const auto r = j.backup({});
    REQUIRE(r.ok());
    const auto v = j.verify("latest");
    CHECK(v.ok());
    REQUIRE(v.objects.size() == 2);

    auto with_id = in.config;
    with_id.encryption.identities = {in.pair.identity};
    {
        job::Job jk(with_id, in.env);
        CHECK(jk.verify("latest").ok());
    }
    // A byte of the last chunk flipped: without the key the digest differs, with it the
    // chunk's tag fails too.
    const auto key = in.manifest(r.time).halves.at("db").key;
    in.flip(key, in.object(key).size() - 3);
    const auto bad = j.verify("latest");
    CHECK_FALSE(bad.ok());
    bool found = false;
    for (const auto& o : bad.objects)
        if (o.key == key) {
            found = true;
            CHECK(o.problem.find("SHA-256") != std::string::npos);
        }
    CHECK(found);
    job::Job jk(with_id, in.env);
    const auto bad2 = jk.verify("latest");
    CHECK_FALSE(bad2.ok());
    for (const auto& o : bad2.objects)
        if (o.key == key) CHECK(o.problem.find("age") != std::string::npos);
}

TEST_CASE("restore decrypts with the identity; without it fails naming the setting") {
    Instance in;
    in.db.set_content("db at day 1");
    in.docs.set_content("docs at day 1");
    {
        job::Job j(in.config, in.env);
        REQUIRE(j.backup({}).ok());
    }
    {
        job::Job j(in.config, in.env);
        job::RestoreDbOptions o;
        try {
            j.restore_db(o);
            FAIL("restore without an identity went on");
        } catch (const ConfigError& e) {
            const std::string msg = e.what();
            CHECK(msg.find("age_identity_file") != std::string::npos);
            CHECK(msg.find(".age") != std::string::npos);
        }
        CHECK(in.env.fake_database().restored.empty());
    }
    auto with_id = in.config;
    with_id.encryption.identities = {in.pair.identity};
    job::Job j(with_id, in.env);
    j.restore_db({});
    CHECK(in.env.fake_database().restored == "db at day 1");
    job::RestoreDocsOptions d;
    d.target = "/nonexistent-sim-target";
    j.restore_docs(d);
    CHECK(in.env.fake_documents().restored == "docs at day 1");

    // A wrong identity: AgeError (no_match), nothing restored.
    auto wrong = in.config;
    wrong.encryption.identities = {io::age_generate_key().identity};
    in.env.fake_database().restored.clear();
    job::Job jw(wrong, in.env);
    CHECK_THROWS_AS(jw.restore_db({}), io::AgeError);
    CHECK(in.env.fake_database().restored.empty());
}

TEST_CASE(
    "key rotation: new runs use the new recipients, old runs open with the old identity; "
    "turning encryption on uploads an unchanged half again") {
    Instance in;
    in.config.encryption.recipients.clear();
    {
        job::Job j(in.config, in.env);
        REQUIRE(j.backup({}).ok());
    }
    // Encryption turned on: the unchanged halves are stored again, encrypted.
    in.clock.set(day(2));
    in.config.encryption.recipients = {in.pair.recipient};
    {
        job::Job j(in.config, in.env);
        const auto r = j.backup({});
        REQUIRE(r.ok());
        for (const auto& h : r.halves) {
            CHECK(h.outcome == job::HalfReport::Outcome::uploaded);
            CHECK(h.key.ends_with(".age"));
        }
    }
    // Rotation: a new key for the next runs.
    const auto key2 = io::age_generate_key();
    in.clock.set(day(3));
    in.db.set_content("day 3");
    in.config.encryption.recipients = {key2.recipient};
    {
        job::Job j(in.config, in.env);
        REQUIRE(j.backup(options(false, false)).ok());
    }
    auto both = in.config;
    both.encryption.identities = {key2.identity, in.pair.identity};
    job::Job j(both, in.env);
    j.restore_db(restore_at(day(2)));
    CHECK(in.env.fake_database().restored == "initial");
    j.restore_db(restore_at(day(3)));
    CHECK(in.env.fake_database().restored == "day 3");
    // The plain run of day 1 still restores as it is.
    j.restore_db(restore_at(day(1)));
    CHECK(in.env.fake_database().restored == "initial");
    CHECK(j.verify(format_timestamp(day(2))).ok());
    // Only the new identity: the day-2 objects do not open.
    auto only_new = in.config;
    only_new.encryption.identities = {key2.identity};
    job::Job jn(only_new, in.env);
    CHECK_THROWS_AS(jn.restore_db(restore_at(day(2))), io::AgeError);
}

TEST_CASE("settings: age_recipients, age_recipients_file and age_identity_file") {
    test::TempDir dir;
    const auto k1 = io::age_generate_key();
    const auto k2 = io::age_generate_key();
    const auto file = dir.path() / "recipients.txt";
    std::ofstream(file) << "# the offline recovery key\n\n" << k2.recipient << "\n";
    job::Settings s;
    s["store"] = {"file:///tmp/x", {}, "test"};
    s["age_recipients"] = {k1.recipient + "," + k2.recipient, {}, "--age-recipients"};
    s["age_recipients_file"] = {file.string(), {}, "DOLIBAK_AGE_RECIPIENTS_FILE"};
    s["age_identity_file"] = {(dir.path() / "key.txt").string(), {}, "DOLIBAK_AGE_IDENTITY_FILE"};
    const job::Environment env;
    const auto c = job::config_from_settings(s, &env);
    CHECK(c.encryption.recipients.size() == 2);  // the duplicate once
    CHECK(c.encryption.identity_files.size() == 1);
    CHECK(c.encryption.identity_source.find("DOLIBAK_AGE_IDENTITY_FILE") != std::string::npos);

    // A bad recipient names the setting.
    s["age_recipients"] = {"age1notarecipient", {}, "--age-recipients"};
    try {
        job::config_from_settings(s, &env);
        FAIL("a bad recipient was accepted");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("age_recipients") != std::string::npos);
    }
    s.erase("age_recipients");
    std::ofstream(file) << "# nothing\n";
    CHECK_THROWS_WITH_AS(job::config_from_settings(s, &env),
                         doctest::Contains("holds no recipient"), ConfigError);
}

TEST_CASE("the identity file is read only when needed, never echoed; a missing one is named") {
    Instance in;
    test::TempDir dir;
    job::Job j(in.config, in.env);
    REQUIRE(j.backup({}).ok());
    auto missing = in.config;
    missing.encryption.identity_files = {dir.path() / "nope.txt"};
    missing.encryption.identity_source = "age_identity_file (from --age-identity-file)";
    // The backup needs no identity: a missing file does not matter.
    in.clock.set(day(2));
    {
        job::Job jm(missing, in.env);
        CHECK(jm.backup(options(true, true)).ok());
        CHECK_THROWS_WITH_AS(jm.restore_db({}), doctest::Contains("nope.txt"), ConfigError);
    }
    const auto keyfile = dir.path() / "key.txt";
    std::ofstream(keyfile) << "# created: now\n# public key: " << in.pair.recipient << "\n"
                           << in.pair.identity.reveal() << "\n";
    ::chmod(keyfile.c_str(), 0644);
    auto good = in.config;
    good.encryption.identity_files = {keyfile};
    std::vector<std::string> said;
    good.on_event = [&said](const job::Event& e) { said.push_back(e.message); };
    job::Job jg(good, in.env);
    jg.restore_db({});
    bool warned = false;
    for (const auto& m : said) {
        CHECK(m.find(in.pair.identity.reveal()) == std::string::npos);
        if (m.find("chmod 600") != std::string::npos) warned = true;
    }
    CHECK(warned);
    // A file that is not an identity file: the error names the file, not its content.
    std::ofstream(keyfile) << "AGE-SECRET-KEY-1NOTAKEY\n";
    auto bad = in.config;
    bad.encryption.identity_files = {keyfile};
    job::Job jb(bad, in.env);
    try {
        jb.restore_db({});
        FAIL("a bad identity file was accepted");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("key.txt") != std::string::npos);
        CHECK(std::string(e.what()).find("NOTAKEY") == std::string::npos);
    }
}

TEST_CASE("store keys: a half's object may carry .age; a manifest or a record may not") {
    const TimePoint t = day(5);
    const auto k = catalog::make_store_key("p", catalog::ObjectKind::db_dump_zst, t, true);
    CHECK(k == "p/db/20260405T020000Z.dump.zst.age");
    const auto parsed = catalog::parse_store_key(k);
    REQUIRE(parsed);
    CHECK(parsed->encrypted);
    CHECK(parsed->kind == catalog::ObjectKind::db_dump_zst);
    CHECK(parsed->time == t);
    CHECK_FALSE(catalog::parse_store_key("p/db/20260405T020000Z.dump")->encrypted);
    CHECK(catalog::parse_store_key("docs/20260405T020000Z.tar.gz.age")->kind ==
          catalog::ObjectKind::docs_tar_gz);
    CHECK(catalog::parse_store_key("globals/20260405T020000Z.sql.age"));
    CHECK_FALSE(catalog::parse_store_key("manifests/20260405T020000Z.json.age"));
    CHECK_FALSE(catalog::parse_store_key("verified/20260405T020000Z.ok.json.age"));
    CHECK_FALSE(catalog::parse_store_key("db/20260405T020000Z.age"));
    CHECK_THROWS_AS(catalog::make_store_key("", catalog::ObjectKind::manifest, t, true),
                    ConfigError);
}

TEST_CASE("manifest: an encrypted half round-trips; a plain one is written as before") {
    catalog::Manifest m;
    m.time = m.started_at = m.finished_at = day(6);
    m.tool_version = "test";
    catalog::ManifestHalf h;
    h.key = "db/20260406T020000Z.dump.age";
    h.bytes = 10;
    h.sha256 = std::string(64, 'a');
    h.encryption = "age";
    h.archive_summary_sealed = "c2VhbGVk";
    m.halves["db"] = h;
    const auto text = m.to_json();
    CHECK(catalog::Manifest::from_json(text) == m);
    CHECK(text.find("\"encryption\":\"age\"") != std::string::npos);
    m.halves["db"].encryption.clear();
    m.halves["db"].archive_summary_sealed.clear();
    const auto plain = m.to_json();
    CHECK(plain.find("encryption") == std::string::npos);
    CHECK(plain.find("sealed") == std::string::npos);
    // An unknown encryption is refused, naming the field.
    std::string other = text;
    other.replace(other.find("\"age\""), 5, "\"rot13\"");
    CHECK_THROWS_WITH_AS(catalog::Manifest::from_json(other),
                         doctest::Contains("halves.db.encryption"), FormatError);
}

TEST_CASE("age_seal: a sealed text opens with the identity only, and any change is refused") {
    const auto k = io::age_generate_key();
    io::AgeRecipients to;
    to.x25519 = {k.recipient};
    const std::string sealed = io::age_seal(R"({"tables":{"llx_facture":12}})", to);
    CHECK(sealed.find("llx") == std::string::npos);
    CHECK(io::age_unseal(sealed, identities_of(k.identity)) == R"({"tables":{"llx_facture":12}})");
    CHECK_THROWS_AS(io::age_unseal(sealed, identities_of(io::age_generate_key().identity)),
                    io::AgeError);
    std::string changed = sealed;
    changed[changed.size() - 5] = changed[changed.size() - 5] == 'A' ? 'B' : 'A';
    CHECK_THROWS_AS(io::age_unseal(changed, identities_of(k.identity)), io::AgeError);
    CHECK_THROWS_AS(io::age_unseal("not base64!", identities_of(k.identity)), io::AgeError);
}

TEST_CASE("check: the encryption item counts recipients and the identities that open new runs") {
    Instance in;
    auto item_of = [](const job::CheckReport& r) -> std::optional<job::CheckItem> {
        for (const auto& i : r.items)
            if (i.name == "encryption") return i;
        return std::nullopt;
    };
    {
        job::Job j(in.config, in.env);
        const auto e = item_of(j.check());
        REQUIRE(e);
        CHECK(e->ok);
        CHECK(e->detail.find("1 age recipient") != std::string::npos);
        CHECK(e->detail.find("no identity") != std::string::npos);
    }
    auto with = in.config;
    with.encryption.identities = {io::age_generate_key().identity, in.pair.identity};
    {
        job::Job j(with, in.env);
        const auto e = item_of(j.check());
        REQUIRE(e);
        CHECK(e->ok);
        CHECK(e->detail.find("2 identities read, 1 of them") != std::string::npos);
    }
    test::TempDir dir;
    auto missing = in.config;
    missing.encryption.identity_files = {dir.path() / "absent.txt"};
    job::Job j(missing, in.env);
    const auto e = item_of(j.check());
    REQUIRE(e);
    CHECK_FALSE(e->ok);
    CHECK(e->detail.find("absent.txt") != std::string::npos);
    // Without any encryption setting there is no such item.
    auto plain = in.config;
    plain.encryption = {};
    job::Job jp(plain, in.env);
    CHECK_FALSE(item_of(jp.check()));
}

TEST_CASE(
    "verify: a sealed summary the identity cannot open, and an encrypted object without "
    "a manifest or an identity, are problems") {
    Instance in;
    job::Job j(in.config, in.env);
    const auto r = j.backup({});
    REQUIRE(r.ok());
    const auto key = in.manifest(r.time).halves.at("db").key;

    // Another key pair's identity opens neither the summary nor the object.
    auto wrong = in.config;
    wrong.encryption.identities = {io::age_generate_key().identity};
    const auto v = job::Job(wrong, in.env).verify("latest");
    CHECK_FALSE(v.ok());
    bool found = false;
    for (const auto& o : v.objects)
        if (o.key == key) {
            found = true;
            CHECK(o.problem.find("the manifest's sealed summary") != std::string::npos);
        }
    CHECK(found);

    // Without the manifest there is no digest to hold the ciphertext to, and no identity to
    // decrypt it: nothing was checked, which is not an ok.
    in.mem.remove(catalog::make_store_key("", catalog::ObjectKind::manifest, r.time));
    const auto bare = j.verify(format_timestamp(r.time));
    CHECK_FALSE(bare.ok());
    found = false;
    for (const auto& o : bare.objects)
        if (o.key == key) {
            found = true;
            CHECK(o.problem.find("nothing could be checked") != std::string::npos);
        }
    CHECK(found);
}
