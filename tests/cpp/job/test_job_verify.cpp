// Job::verify: every byte of every object of a run, per object, with the bad one pinpointed.
#include "support/job_ops_testing.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/job/report.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace dolibak;
namespace fs = std::filesystem;

namespace {

const TimePoint t1 = parse_timestamp("20260301T020000Z");
const TimePoint t2 = parse_timestamp("20260302T020000Z");

struct Fixture {
    test::TempDir tmp;
    fs::path store_dir = tmp / "store";
    job::Job j{jt::config("file://" + store_dir.string())};
    fs::path docs = tmp / "docs";
    Fixture() {
        test::write_file(docs / "install.lock", "");
        for (int i = 0; i < 20; ++i)
            test::write_file(
                docs / ("facture/F" + std::to_string(i) + "/F.pdf"),
                std::string(20000 + static_cast<std::size_t>(i) * 997, static_cast<char>('a' + i)));
    }
    fs::path file(const std::string& key) const { return store_dir / key; }
};

// Flips one byte of a stored file in place (a bit rot on the backup disk).
void flip_byte(const fs::path& p, std::uint64_t at) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x20));
}

const job::VerifiedObject& object(const job::VerifyReport& r, const std::string& half) {
    for (const auto& o : r.objects)
        if (o.half == half) return o;
    FAIL("no object of half " << half);
    throw Error("unreachable");
}

}  // namespace

TEST_CASE("verify passes on a good run and checks each object's digest against the manifest") {
    Fixture f;
    jt::make_run(f.j.store(), {t1, jt::tiny_db(), f.docs});
    const auto m = jt::make_run(f.j.store(), {t2, jt::tiny_db(), f.docs, true, true});
    const auto r = f.j.verify();
    CHECK(r.ok());
    CHECK(r.time == t2);
    REQUIRE(r.objects.size() == 2);
    CHECK(object(r, "db").key == catalog::make_store_key("", catalog::ObjectKind::db_dump_zst, t2));
    CHECK(object(r, "db").sha256 == m.halves.at("db").sha256);
    CHECK(object(r, "db").bytes == m.halves.at("db").bytes);
    CHECK(object(r, "docs").sha256 == m.halves.at("docs").sha256);
    // A named run.
    const auto r1 = f.j.verify(format_timestamp(t1));
    CHECK(r1.ok());
    CHECK(object(r1, "docs").key ==
          catalog::make_store_key("", catalog::ObjectKind::docs_tar_gz, t1));
    // A run that is not there is the only error verify throws.
    CHECK_THROWS_AS(f.j.verify("20200101T000000Z"), ConfigError);
}

TEST_CASE("a flipped byte in a stored object is pinpointed, the other object still passes") {
    Fixture f;
    const auto m = jt::make_run(f.j.store(), {t1, jt::tiny_db(), f.docs});
    SUBCASE("in the tar") {
        const auto key = m.halves.at("docs").key;
        flip_byte(f.file(key), fs::file_size(f.file(key)) / 2);
        const auto r = f.j.verify();
        CHECK(!r.ok());
        CHECK(object(r, "db").ok);
        const auto& d = object(r, "docs");
        CHECK(!d.ok);
        CHECK(d.key == key);
        CHECK(d.problem.find("SHA-256") != std::string::npos);
    }
    SUBCASE("in the dump") {
        const auto key = m.halves.at("db").key;
        flip_byte(f.file(key), fs::file_size(f.file(key)) - 40);
        const auto r = f.j.verify();
        CHECK(!r.ok());
        CHECK(object(r, "docs").ok);
        const auto& d = object(r, "db");
        CHECK(!d.ok);
        CHECK(d.problem.find("SHA-256") != std::string::npos);
        // The archive check speaks too: the damaged block is named.
        CHECK(d.problem.find("dump archive") != std::string::npos);
    }
}

TEST_CASE("a digest in the manifest that differs from the object is reported") {
    Fixture f;
    jt::make_run(f.j.store(), {t1, jt::tiny_db(), f.docs});
    const auto mkey = catalog::make_store_key("", catalog::ObjectKind::manifest, t1);
    auto m = catalog::Manifest::from_json(f.j.store().get_bytes(mkey));
    m.halves.at("db").sha256 = io::sha256_hex("something else");
    f.j.store().put_bytes(mkey, m.to_json());
    const auto r = f.j.verify();
    CHECK(!r.ok());
    CHECK(object(r, "docs").ok);
    CHECK(!object(r, "db").ok);
    CHECK(object(r, "db").problem.find("differs from the manifest") != std::string::npos);
    // The archive itself is sound: no archive problem is claimed.
    CHECK(object(r, "db").problem.find("dump archive") == std::string::npos);
}

TEST_CASE("objects of the old scripts verify on their format; damage is still found") {
    Fixture f;
    jt::RunSpec spec{t1, jt::tiny_db(), f.docs};
    spec.manifest = false;
    spec.old_prefix = true;
    const auto m = jt::make_run(f.j.store(), spec);
    auto r = f.j.verify();
    CHECK(r.ok());
    CHECK(r.objects.size() == 2);
    // Cut the tar in the middle: the format check alone catches it.
    const auto key = m.halves.at("docs").key;
    const auto p = f.file(key);
    fs::resize_file(p, fs::file_size(p) / 2);
    r = f.j.verify(format_timestamp(t1));
    CHECK(!r.ok());
    CHECK(object(r, "db").ok);
    CHECK(!object(r, "docs").ok);
    CHECK(object(r, "docs").problem.find("tar archive") != std::string::npos);
}

TEST_CASE("a missing object, a failed half and an empty globals object are findings") {
    Fixture f;
    auto m = jt::make_run(f.j.store(), {t1, jt::tiny_db(), f.docs});
    // A later run: docs unchanged (names t1's object), db failed, globals empty.
    catalog::Manifest later = m;
    later.time = later.started_at = later.finished_at = t2;
    later.halves.at("docs").status = catalog::ManifestHalf::Status::unchanged;
    catalog::ManifestHalf failed;
    failed.status = catalog::ManifestHalf::Status::failed;
    failed.error = "pg_dump exited with status 1";
    later.halves["db"] = failed;
    const auto gkey = catalog::make_store_key("", catalog::ObjectKind::globals_sql, t2);
    f.j.store().put_bytes(gkey, "\n\n");
    catalog::ManifestHalf g;
    g.key = gkey;
    g.bytes = 2;
    g.sha256 = io::sha256_hex("\n\n");
    later.halves["globals"] = g;
    f.j.store().put_bytes(catalog::make_store_key("", catalog::ObjectKind::manifest, t2),
                          later.to_json());

    auto r = f.j.verify();
    REQUIRE(r.objects.size() == 3);
    CHECK(!r.ok());
    CHECK(object(r, "docs").ok);  // the unchanged half: t1's object, verified
    CHECK(object(r, "docs").key == m.halves.at("docs").key);
    CHECK(!object(r, "db").ok);
    CHECK(object(r, "db").problem.find("pg_dump exited") != std::string::npos);
    CHECK(!object(r, "globals").ok);
    CHECK(object(r, "globals").problem.find("empty") != std::string::npos);

    fs::remove(f.file(m.halves.at("docs").key));
    r = f.j.verify();
    CHECK(!object(r, "docs").ok);
    CHECK(object(r, "docs").problem.find("missing") != std::string::npos);
}

TEST_CASE("verify records its result; list shows the newest verification of each object") {
    Fixture f;
    jt::make_run(f.j.store(), {t1, jt::tiny_db(), f.docs});
    const auto m2 = jt::make_run(f.j.store(), {t2, jt::tiny_db(), f.docs});
    // Nothing verified yet.
    for (const auto& b : f.j.list().backups) CHECK_FALSE(b.verified);

    const auto good = f.j.verify(format_timestamp(t1));
    REQUIRE(good.ok());
    CHECK(good.record_key == catalog::make_store_key("", catalog::ObjectKind::verified_ok, t1));
    CHECK(fs::exists(f.file(good.record_key)));
    // A record is neither a backup nor a run; list reads it into the objects it checked.
    auto listing = f.j.list();
    CHECK(listing.runs.size() == 2);
    CHECK(listing.verifications.size() == 1);
    CHECK(listing.other.empty());
    for (const auto& b : listing.backups) {
        INFO(b.key);
        if (b.time == t1) {
            REQUIRE(b.verified);
            CHECK(b.verified->ok);
            CHECK(b.verified->run == t1);
        } else {
            CHECK_FALSE(b.verified);
        }
    }

    // A damaged object: its verification says so, the other object of the run is still ok.
    const auto docs_key = m2.halves.at("docs").key;
    flip_byte(f.file(docs_key), fs::file_size(f.file(docs_key)) / 2);
    const auto bad = f.j.verify(format_timestamp(t2));
    CHECK_FALSE(bad.ok());
    CHECK(bad.record_key == catalog::make_store_key("", catalog::ObjectKind::verified_failed, t2));
    listing = f.j.list();
    for (const auto& b : listing.backups) {
        if (b.time != t2) continue;
        INFO(b.key);
        REQUIRE(b.verified);
        CHECK(b.verified->ok == (b.key != docs_key));
    }
    const auto json = nlohmann::json::parse(job::to_json(listing));
    for (const auto& b : json.at("backups")) {
        INFO(b.dump());
        CHECK(b.at("verified").at("ok").get<bool>() == (b.at("key") != docs_key));
    }
}

TEST_CASE("a store that refuses the record leaves the verification standing, with a warning") {
    Fixture f;
    jt::make_run(f.j.store(), {t1, jt::tiny_db(), f.docs});
    std::vector<std::string> warnings;
    auto c = jt::config("file://" + f.store_dir.string());
    c.on_event = [&](const job::Event& e) {
        if (e.kind == job::Event::Kind::warning) warnings.push_back(e.message);
    };
    job::Job j(std::move(c));
    // verified/ is a file: nothing can be written below it.
    test::write_file(f.store_dir / "verified", "in the way");
    const auto r = j.verify();
    CHECK(r.ok());
    CHECK(r.record_key.empty());
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("the verification could not be recorded") != std::string::npos);
}

TEST_CASE("a verification record that is not one is ignored by list, with a warning") {
    Fixture f;
    jt::make_run(f.j.store(), {t1, jt::tiny_db(), f.docs});
    std::vector<std::string> warnings;
    auto c = jt::config("file://" + f.store_dir.string());
    c.on_event = [&](const job::Event& e) {
        if (e.kind == job::Event::Kind::warning) warnings.push_back(e.message);
    };
    job::Job j(std::move(c));
    const auto key = catalog::make_store_key("", catalog::ObjectKind::verification, t1);
    for (const std::string body : {"not json", "{\"format\": 2}", "{\"format\": 1, \"run\": 3}"}) {
        INFO(body);
        warnings.clear();
        j.store().put_bytes(key, body);
        const auto listing = j.list();
        CHECK(listing.verifications.size() == 1);
        for (const auto& b : listing.backups) CHECK_FALSE(b.verified);
        REQUIRE(warnings.size() == 1);
        CHECK(warnings[0] == "verification record " + key + " not understood: ignored");
    }
    // A real verification replaces it (the old record is removed) and is read again.
    REQUIRE(j.verify().ok());
    CHECK_FALSE(j.store().head(key));
    for (const auto& b : j.list().backups) CHECK(b.verified);
}
