// Application profiles: the built-in data, matching, JSON loading and extension.
#include <dolibak/core/error.hpp>
#include <dolibak/job/profile.hpp>

#include <doctest/doctest.h>

#include <algorithm>

using namespace dolibak;

TEST_CASE("built-in dolibarr profile") {
    const job::Profile p = job::builtin_profile("dolibarr");
    CHECK(p.table_prefix == "llx_");
    CHECK(p.table_like_pattern() == "llx\\_%");
    CHECK(p.change_column == "tms");
    CHECK(p.min_restored_tables == 250);
    for (const char* t :
         {"llx_user", "llx_cronjob", "llx_const", "llx_events", "llx_user_param", "llx_oauth_token",
          "llx_societe_account", "llx_mailing_cibles", "llx_emailcollector_emailcollector"})
        CHECK(p.is_volatile_table(t));
    for (const char* t : {"llx_facture", "llx_facturedet", "llx_blockedlog", "llx_user_rights"})
        CHECK_FALSE(p.is_volatile_table(t));
    // Only what Dolibarr regenerates, matched as the tar writer matches (ExcludeMatcher).
    for (const char* f : {"facture/temp/stats.png", "temp/cache.json", "dolibarr.log",
                          "dolibarr_install.log", "facture/FA2401-0001/FA2401-0001.pdf_preview.png",
                          "facture/FA2401-0001/FA2401-0001.pdf_preview-0.png"})
        CHECK(p.excludes_document(f));
    // User attachments whatever their names (a ticket's server.log), Dolibarr's own dumps
    // (admin/backup) and document exports (admin/documents) are kept.
    for (const char* f :
         {"facture/FA2401-0001/FA2401-0001.pdf", "install.lock", "facture/(PROV12)/(PROV12).pdf",
          "produit/P1/thumbs/p_small.jpg", "admin/backup/mysqldump.sql.gz", "temporary/x",
          "ticket/TS2401-0001/server.log", "ticket/TS2401-0001/notes.old", "societe/1/x.back",
          "x/y.old", "admin/documents/export.zip", "ticket/T1/dolibarr.log", "server.log"})
        CHECK_FALSE(p.excludes_document(f));
    CHECK(p.required_documents == std::vector<std::string>{"install.lock"});
}

TEST_CASE("built-in odoo profile") {
    const job::Profile p = job::builtin_profile("odoo");
    CHECK(p.change_column == "write_date");
    CHECK(p.table_like_pattern() == "%");
    CHECK(p.is_volatile_table("bus_bus"));
    CHECK(p.is_volatile_table("res_users_log"));
    CHECK(p.is_volatile_table("account_payment_register_wizard"));
    CHECK_FALSE(p.is_volatile_table("account_move"));
    // checklist/ stays in the backup but out of the fingerprint.
    CHECK_FALSE(p.excludes_document("mydb/checklist/ab/abcdef"));
    CHECK(p.excludes_from_fingerprint("mydb/checklist/ab/abcdef"));
    CHECK(p.excludes_from_fingerprint("checklist/ab/abcdef"));
    CHECK_FALSE(p.excludes_from_fingerprint("mydb/ab/abcdef0123"));
    CHECK(job::builtin_profile_names() == std::vector<std::string>{"dolibarr", "odoo"});
    CHECK_THROWS_WITH_AS(job::builtin_profile("wordpress"), doctest::Contains("dolibarr, odoo"),
                         ConfigError);
}

TEST_CASE("profiles from JSON") {
    SUBCASE("round trip of the built-in ones") {
        for (const auto& name : job::builtin_profile_names()) {
            const job::Profile p = job::builtin_profile(name);
            CHECK(job::profile_from_json(to_json(p)) == p);
        }
    }
    SUBCASE("extending dolibarr") {
        const job::Profile p = job::profile_from_json(R"({
            "extends": "dolibarr", "name": "our-dolibarr", "table_prefix": "erp_",
            "volatile_tables": {"add": ["erp_mymodule_log", "erp_cache_*"], "remove": ["llx_const"]},
            "document_excludes": {"add": ["admin/backup/*"]},
            "min_restored_tables": 260})");
        CHECK(p.name == "our-dolibarr");
        CHECK(p.table_prefix == "erp_");
        CHECK(p.change_column == "tms");
        CHECK(p.is_volatile_table("erp_cache_rates"));
        CHECK(p.is_volatile_table("erp_mymodule_log"));
        CHECK_FALSE(p.is_volatile_table("llx_const"));
        CHECK(p.is_volatile_table("llx_user"));
        CHECK(p.excludes_document("admin/backup/dump.sql.gz"));
        CHECK(p.excludes_document("facture/temp/x"));
        CHECK(p.min_restored_tables == 260);
    }
    SUBCASE("replacing a list, and a base given by the caller") {
        const job::Profile base = job::builtin_profile("odoo");
        const job::Profile p = job::profile_from_json(R"({"volatile_tables": ["bus_bus"]})", &base);
        CHECK(p.volatile_tables == std::vector<std::string>{"bus_bus"});
        CHECK(p.name == "odoo");
    }
    SUBCASE("errors name the field") {
        auto refused = [](const char* text, const char* message) {
            CAPTURE(text);
            CHECK_THROWS_WITH_AS(job::profile_from_json(text), doctest::Contains(message),
                                 ConfigError);
        };
        refused("{", "not valid JSON");
        refused("[]", "must be a JSON object");
        refused(R"({"extends": "dolibarr", "volatile": []})", "volatile: unknown field");
        refused(R"({"extends": "nope"})", "unknown application profile 'nope'");
        refused(R"({"extends": "dolibarr", "volatile_tables": "llx_user"})",
                "volatile_tables: must be a list");
        refused(R"({"extends": "dolibarr", "volatile_tables": [1]})",
                "volatile_tables: must be a list of non-empty strings");
        refused(R"({"extends": "dolibarr", "volatile_tables": {"remove": ["nope"]}})",
                "volatile_tables.remove: 'nope' is not in the list");
        refused(R"({"extends": "dolibarr", "volatile_tables": {"drop": []}})",
                "unknown key 'drop'");
        refused(R"({"extends": "dolibarr", "min_restored_tables": -1})",
                "min_restored_tables: must be an integer >= 0");
        refused(R"({"extends": "dolibarr", "name": ""})", "name: must not be empty");
        refused(R"({"name": "x"})", "table_prefix: missing");
    }
}
