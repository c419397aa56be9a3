// Job::check: each preflight item reported ok/failed with a detail, never a secret.
#include "support/job_ops_testing.hpp"

#include <dolibak/core/error.hpp>

using namespace dolibak;
namespace fs = std::filesystem;

namespace {

const job::CheckItem& item(const job::CheckReport& r, const std::string& name) {
    for (const auto& i : r.items)
        if (i.name == name) return i;
    FAIL("no check item " << name);
    throw Error("unreachable");
}

job::Config full_config(const std::string& url, const fs::path& docs,
                        const store::StoreOptions& so = {}) {
    auto c = jt::config(url, so);
    job::DatabaseSettings d;
    d.conn = pgt::conn("prod", jt::tiny_db());
    d.tools_dir = pgt::pg_bin();
    c.db = d;
    job::DocumentsSettings s;
    s.root = docs;
    c.docs = s;
    return c;
}

std::string everything(const job::CheckReport& r, const std::vector<job::Event>& events) {
    std::string all;
    for (const auto& i : r.items) all += i.name + " " + i.detail + "\n";
    for (const auto& e : events) all += e.message + "\n";
    return all;
}

}  // namespace

TEST_CASE("check passes every item on a good setup") {
    test::TempDir tmp;
    test::write_file(tmp / "docs/install.lock", "");
    test::write_file(tmp / "docs/facture/a.pdf", "pdf");
    job::Job j(full_config("file://" + (tmp / "store").string(), tmp / "docs"));
    const auto r = j.check();
    CHECK(r.ok());
    for (const char* name :
         {"database", "database session", "pg tools", "documents", "store", "clock", "temp space"})
        CHECK(item(r, name).ok);
    CHECK(item(r, "database").detail.find("read-only: on, writes refused") != std::string::npos);
    CHECK(item(r, "documents").detail.find("2 files") != std::string::npos);
    // The probe is gone.
    CHECK(j.store().list("").empty());
}

TEST_CASE("a missing documents directory and a wrong password fail their items only") {
    test::TempDir tmp;
    auto c = full_config("file://" + (tmp / "store").string(), tmp / "nowhere");
    const std::string password = "Wr0ng-Passw0rd-7731";
    c.db->conn.password = Secret(password);
    std::vector<job::Event> events;
    c.on_event = [&](const job::Event& e) { events.push_back(e); };
    job::Job j(std::move(c));
    const auto r = j.check();
    CHECK(!r.ok());
    CHECK(!item(r, "documents").ok);
    CHECK(item(r, "documents").detail.find("does not exist") != std::string::npos);
    CHECK(!item(r, "database").ok);
    CHECK(item(r, "database").detail.find("password authentication failed") != std::string::npos);
    CHECK(!item(r, "pg tools").ok);  // not checkable without the server's version
    CHECK(item(r, "store").ok);
    CHECK(item(r, "temp space").ok);
    CHECK(everything(r, events).find(password) == std::string::npos);
}

TEST_CASE("documents without the profile's required file, and an unreachable store") {
    test::TempDir tmp;
    test::write_file(tmp / "docs/facture/a.pdf", "pdf");
    auto c = full_config("file://" + (tmp / "store").string(), tmp / "docs");
    c.db.reset();
    job::Job j(std::move(c));
    CHECK(j.store().list("").empty());  // the store is opened (on first use)...
    // ...then the directory disappears (an unmounted backup disk).
    fs::remove_all(tmp / "store");
    const auto r = j.check();
    CHECK(!item(r, "documents").ok);
    CHECK(item(r, "documents").detail.find("install.lock missing") != std::string::npos);
    CHECK(!item(r, "store").ok);
    CHECK(r.items.size() == 4);  // no database items without a database half
}

TEST_CASE("check against the S3 fixture compares the clocks") {
    test::TempDir tmp;
    test::write_file(tmp / "docs/install.lock", "");
    std::vector<job::Event> events;
    auto c = full_config(jt::s3_url(), tmp / "docs", jt::s3_options());
    c.on_event = [&](const job::Event& e) { events.push_back(e); };
    job::Job j(std::move(c));
    const auto r = j.check();
    CHECK(r.ok());
    CHECK(item(r, "clock").detail.find("store's clock") != std::string::npos);
    CHECK(j.store().list("").empty());
    CHECK(everything(r, events).find(test::s3().at("secret_key").get<std::string>()) ==
          std::string::npos);
}

TEST_CASE("check fails where pg_dump would: a table or a large object the role cannot read") {
    test::TempDir tmp;
    test::write_file(tmp / "docs/install.lock", "");
    const auto db = pgt::create_db("prod");
    pgt::psql(pgt::conn("prod", db), "CREATE TABLE llx_ok (a int);");
    auto c = full_config("file://" + (tmp / "store").string(), tmp / "docs");
    c.db->conn = pgt::conn("prod", db);
    job::Job j(c);
    CHECK(item(j.check(), "database read access").ok);

    SUBCASE("a table of another role") {
        pgt::psql(pgt::conn("superuser", db), "CREATE TABLE llx_hidden (a int);");
        const auto r = j.check();
        CHECK(!r.ok());
        CHECK(!item(r, "database read access").ok);
        CHECK(item(r, "database read access").detail.find("public.llx_hidden") !=
              std::string::npos);
    }
    SUBCASE("a large object of another role") {
        pgt::psql(pgt::conn("superuser", db), "SELECT lo_create(0);");
        const auto r = j.check();
        CHECK(!r.ok());
        CHECK(item(r, "database read access").detail.find("1 of 1 large object is not readable") !=
              std::string::npos);
        // Granted: readable again.
        pgt::psql(pgt::conn("superuser", db),
                  "DO $$ DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata "
                  "LOOP EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO PUBLIC', o); END "
                  "LOOP; END $$;");
        CHECK(item(j.check(), "database read access").ok);
    }
}
