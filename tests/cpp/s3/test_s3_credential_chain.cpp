// The credential chain against the moto fixture (signatures and session tokens checked):
// web identity, credential_process, assume-role profiles, renewal of temporary credentials,
// explicit credentials against a stale AWS_PROFILE, and the messages when nothing works.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/s3/client.hpp>
#include <dolibak/s3/credentials.hpp>
#include <dolibak/store/store.hpp>

#include "s3/answers.hpp"
#include "s3/credential_sources.hpp"
#include "s3/transport.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <random>

using namespace dolibak;
using namespace dolibak::s3;

namespace {

const nlohmann::json& fx() {
    return test::s3();
}

std::string endpoint() {
    return fx().at("endpoint").get<std::string>();
}

ClientOptions options() {
    ClientOptions o;
    o.endpoint = endpoint();
    o.region = fx().at("region").get<std::string>();
    o.addressing = AddressingStyle::path;
    o.retry.base_delay = std::chrono::milliseconds(20);
    return o;
}

std::string unique(const std::string& name) {
    static std::mt19937_64 rng(std::random_device{}());
    return "creds/" + name + "-" + std::to_string(rng() % 1000000000);
}

// A put / get / list round trip signed with what the provider serves.
void round_trip(const std::shared_ptr<CredentialProvider>& provider, const std::string& name) {
    Client client(options(), provider);
    const auto bucket = fx().at("bucket").get<std::string>();
    const auto key = unique(name) + "/object";
    client.put_object(bucket, key, io::as_bytes(std::string_view("hello " + name)));
    io::MemorySink sink;
    client.get_object(bucket, key, sink);
    CHECK(sink.data() == "hello " + name);
    const auto listed = client.list_objects(bucket, key);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].key == key);
}

// An environment with nothing of the caller's: HOME in a temporary directory.
std::map<std::string, std::string> clean_env(const test::TempDir& home) {
    return {{"HOME", home.path().string()}, {"PATH", "/usr/bin:/bin"}};
}

// An executable script printing `json` (kept in a file beside it, not in the script).
std::filesystem::path credential_script(const test::TempDir& dir, const std::string& name,
                                        const std::string& json, int status = 0,
                                        const std::string& counter = {}) {
    const auto out = dir / (name + ".json");
    test::write_file(out, json);
    const auto script = dir / (name + ".sh");
    std::string text = "#!/bin/sh\n";
    if (!counter.empty()) text += "echo x >> '" + counter + "'\n";
    text += "cat '" + out.string() + "'\n";
    if (status != 0)
        text += "echo 'the vault is sealed' >&2\nexit " + std::to_string(status) + "\n";
    test::write_file(script, text);
    ::chmod(script.c_str(), 0700);
    return script;
}

std::string static_json() {
    return nlohmann::json{{"Version", 1},
                          {"AccessKeyId", fx().at("access_key")},
                          {"SecretAccessKey", fx().at("secret_key")}}
        .dump();
}

std::size_t lines_of(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::size_t n = 0;
    for (std::string line; std::getline(f, line);) ++n;
    return n;
}

StsTarget fixture_sts() {
    StsTarget t;
    t.endpoint = endpoint();
    t.region = fx().at("region").get<std::string>();
    return t;
}

Credentials fixture_keys() {
    Credentials c;
    c.access_key_id = fx().at("access_key").get<std::string>();
    c.secret_access_key = Secret(fx().at("secret_key").get<std::string>());
    return c;
}

std::string message_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    FAIL("no error");
    return {};
}

}  // namespace

TEST_CASE(
    "web identity from the environment: STS credentials with a session token sign S3 "
    "requests") {
    test::TempDir home;
    CredentialOptions o;
    o.env = clean_env(home);
    (*o.env)["AWS_WEB_IDENTITY_TOKEN_FILE"] = fx().at("web_identity_token_file").get<std::string>();
    (*o.env)["AWS_ROLE_ARN"] = fx().at("role_arn").get<std::string>();
    (*o.env)["AWS_ROLE_SESSION_NAME"] = "dolibak-pod";
    (*o.env)["AWS_ENDPOINT_URL_STS"] = endpoint();
    const auto rc = resolve_config(o);
    CHECK(rc.credentials.access_key_id.starts_with("ASIA"));
    CHECK_FALSE(rc.credentials.session_token.empty());
    REQUIRE(rc.credentials.expiration.has_value());
    CHECK(*rc.credentials.expiration > std::chrono::system_clock::now());
    CHECK(rc.credentials.source.find("web identity") != std::string::npos);
    REQUIRE(rc.provider);
    round_trip(rc.provider, "web-identity");
    {  // the token went with the requests, as a header (the fixture logs names only)
        std::ifstream log(fx().at("request_log").get<std::string>());
        std::size_t with_token = 0;
        for (std::string line; std::getline(log, line);)
            if (line.find("web-identity-") != std::string::npos &&
                line.find("\"x-amz-security-token\"") != std::string::npos)
                ++with_token;
        CHECK(with_token >= 3);  // put, get, list
    }

    SUBCASE("the same from the profile's web_identity_token_file and role_arn") {
        test::write_file(home / ".aws/config",
                         "[profile pod]\nweb_identity_token_file = " +
                             fx().at("web_identity_token_file").get<std::string>() +
                             "\nrole_arn = " + fx().at("role_arn").get<std::string>() +
                             "\nsts =\n  endpoint_url = " + endpoint() + "\n");
        CredentialOptions p;
        p.env = clean_env(home);
        (*p.env)["AWS_PROFILE"] = "pod";
        const auto prc = resolve_config(p);
        CHECK(prc.sts_endpoint_url == endpoint());
        CHECK(prc.credentials.access_key_id.starts_with("ASIA"));
        round_trip(prc.provider, "web-identity-profile");
    }
    SUBCASE("without its session token the temporary key is refused") {
        auto c = rc.credentials;
        c.session_token = Secret();
        Client client(options(), c);
        CHECK_THROWS_AS(client.list_objects(fx().at("bucket").get<std::string>(), "creds/"),
                        RemoteError);
    }
}

TEST_CASE("web identity failures name the cause, never the token") {
    test::TempDir home;
    const auto token_file = home / "token";
    test::write_file(token_file, "not-the-fixture-token-SECRETVALUE\n");
    CredentialOptions o;
    o.env = clean_env(home);
    (*o.env)["AWS_WEB_IDENTITY_TOKEN_FILE"] = token_file.string();
    (*o.env)["AWS_ROLE_ARN"] = fx().at("role_arn").get<std::string>();
    (*o.env)["AWS_ENDPOINT_URL_STS"] = endpoint();
    std::string msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("InvalidIdentityToken") != std::string::npos);
    CHECK(msg.find("AssumeRoleWithWebIdentity") != std::string::npos);
    CHECK(msg.find("SECRETVALUE") == std::string::npos);
    CHECK(msg.find("environment: AWS_ACCESS_KEY_ID unset") != std::string::npos);

    (*o.env)["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home / "missing-token").string();
    msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("cannot read the token file") != std::string::npos);
    CHECK(msg.find("missing-token") != std::string::npos);
}

TEST_CASE(
    "credential_process: its keys sign requests; spawned from an argv, minimal "
    "environment") {
    test::TempDir home;
    const auto script = credential_script(home, "creds", static_json());
    // The argument with a blank, quoted: split like aws-cli, no shell involved.
    test::write_file(home / ".aws/config", "[profile proc]\ncredential_process = " +
                                               script.string() + " --profile 'two words'\n");
    CredentialOptions o;
    o.env = clean_env(home);
    (*o.env)["AWS_PROFILE"] = "proc";
    const auto rc = resolve_config(o);
    CHECK(rc.credentials.access_key_id == fx().at("access_key").get<std::string>());
    CHECK(rc.credentials.source.find("credential_process") != std::string::npos);
    CHECK_FALSE(rc.credentials.expiration.has_value());
    round_trip(rc.provider, "process");
}

TEST_CASE("credential_process: the child sees no secret of ours") {
    test::TempDir home;
    const auto dump = home / "env.txt";
    const auto script = home / "envdump.sh";
    test::write_file(script, "#!/bin/sh\nenv > '" + dump.string() + "'\ncat '" +
                                 (home / "creds.json").string() + "'\n");
    ::chmod(script.c_str(), 0700);
    test::write_file(home / "creds.json", static_json());
    test::write_file(home / ".aws/config",
                     "[default]\ncredential_process = " + script.string() + "\n");
    CredentialOptions o;
    o.env = clean_env(home);
    (*o.env)["AWS_ACCESS_KEY_ID"] = "AKONLY";  // without its secret: not used, not passed
    (*o.env)["DOLIBAK_DB_PASSWORD"] = "db-SECRET";
    (*o.env)["AWS_CONFIG_FILE"] = (home / ".aws/config").string();
    (void)resolve_config(o);
    const auto seen = test::read_file(dump);
    CHECK(seen.find("db-SECRET") == std::string::npos);
    CHECK(seen.find("AKONLY") == std::string::npos);
    CHECK(seen.find("AWS_CONFIG_FILE=") != std::string::npos);
    CHECK(seen.find("HOME=" + home.path().string()) != std::string::npos);
}

TEST_CASE("credential_process failures name the profile and the exit status, not the output") {
    test::TempDir home;
    const auto bad = credential_script(home, "bad",
                                       R"({"Version": 1, "AccessKeyId": "AKLEAK",)"
                                       R"( "SecretAccessKey": "LEAKED-SECRET"})",
                                       1);
    test::write_file(home / ".aws/config",
                     "[profile prod]\ncredential_process = " + bad.string() + "\n");
    CredentialOptions o;
    o.env = clean_env(home);
    (*o.env)["AWS_PROFILE"] = "prod";
    std::string msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("profile 'prod'") != std::string::npos);
    CHECK(msg.find("exited with status 1") != std::string::npos);
    CHECK(msg.find("the vault is sealed") != std::string::npos);  // its stderr helps
    CHECK(msg.find("LEAKED-SECRET") == std::string::npos);
    CHECK(msg.find("web identity: AWS_WEB_IDENTITY_TOKEN_FILE unset") != std::string::npos);

    const auto v2 = credential_script(
        home, "v2", R"({"Version": 2, "AccessKeyId": "AK", "SecretAccessKey": "V2-SECRET"})");
    test::write_file(home / ".aws/config",
                     "[profile prod]\ncredential_process = " + v2.string() + "\n");
    msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("Version") != std::string::npos);
    CHECK(msg.find("V2-SECRET") == std::string::npos);

    const auto notjson = credential_script(home, "notjson", "AKID NOT-JSON-SECRET");
    test::write_file(home / ".aws/config",
                     "[profile prod]\ncredential_process = " + notjson.string() + "\n");
    msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("not JSON") != std::string::npos);
    CHECK(msg.find("NOT-JSON-SECRET") == std::string::npos);

    test::write_file(home / ".aws/config",
                     "[profile prod]\ncredential_process = " + (home / "nope").string() + "\n");
    msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("profile 'prod'") != std::string::npos);
}

TEST_CASE("assume-role profiles: AssumeRole signed with the source profile's keys") {
    test::TempDir home;
    test::write_file(home / ".aws/credentials",
                     "[base]\naws_access_key_id = " + fx().at("access_key").get<std::string>() +
                         "\naws_secret_access_key = " + fx().at("secret_key").get<std::string>() +
                         "\n");
    const auto script = credential_script(home, "creds", static_json());
    test::write_file(home / ".aws/config",
                     "[profile backup]\nrole_arn = " + fx().at("role_arn").get<std::string>() +
                         "\nsource_profile = base\nrole_session_name = nightly-backup\n"
                         "external_id = acme-42\nduration_seconds = 1800\n"
                         "[profile viaproc]\nrole_arn = " +
                         fx().at("role_arn").get<std::string>() +
                         "\nsource_profile = proc\n"
                         "[profile proc]\ncredential_process = " +
                         script.string() +
                         "\n"
                         "[profile chained]\nrole_arn = " +
                         fx().at("role_arn").get<std::string>() +
                         "\nsource_profile = backup\n"
                         "[profile loop1]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                         "source_profile = loop2\n"
                         "[profile loop2]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                         "source_profile = loop1\n"
                         "[profile orphan]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                         "source_profile = nosuch\n");
    CredentialOptions o;
    o.env = clean_env(home);
    (*o.env)["AWS_ENDPOINT_URL_STS"] = endpoint();
    for (const char* profile : {"backup", "viaproc", "chained"}) {
        CAPTURE(profile);
        (*o.env)["AWS_PROFILE"] = profile;
        const auto rc = resolve_config(o);
        CHECK(rc.credentials.access_key_id.starts_with("ASIA"));
        CHECK_FALSE(rc.credentials.session_token.empty());
        CHECK(rc.credentials.source.find(fx().at("role_arn").get<std::string>()) !=
              std::string::npos);
        round_trip(rc.provider, std::string("role-") + profile);
    }
    (*o.env)["AWS_PROFILE"] = "loop1";
    CHECK(message_of([&] { resolve_config(o); }).find("loop") != std::string::npos);
    (*o.env)["AWS_PROFILE"] = "orphan";
    CHECK(message_of([&] { resolve_config(o); }).find("source_profile 'nosuch'") !=
          std::string::npos);
}

TEST_CASE("assume-role with bad source keys: STS refuses, the message names the role") {
    test::TempDir home;
    test::write_file(home / ".aws/credentials",
                     "[base]\naws_access_key_id = " + fx().at("access_key").get<std::string>() +
                         "\naws_secret_access_key = WRONG-SECRET-VALUE\n");
    test::write_file(home / ".aws/config",
                     "[profile backup]\nrole_arn = " + fx().at("role_arn").get<std::string>() +
                         "\nsource_profile = base\n");
    CredentialOptions o;
    o.env = clean_env(home);
    (*o.env)["AWS_PROFILE"] = "backup";
    (*o.env)["AWS_ENDPOINT_URL_STS"] = endpoint();
    const auto msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("AssumeRole") != std::string::npos);
    CHECK(msg.find("SignatureDoesNotMatch") != std::string::npos);
    CHECK(msg.find("profile 'backup'") != std::string::npos);
    CHECK(msg.find("WRONG-SECRET-VALUE") == std::string::npos);
}

TEST_CASE("temporary credentials are renewed before they expire; the client keeps working") {
    // Temporary credentials from AssumeRole, handed out by a credential process with their
    // Expiration; a clock of our own moves past three quarters of their lifetime.
    test::TempDir home;
    AssumeRoleRequest req;
    req.role_arn = fx().at("role_arn").get<std::string>();
    req.session_name = "renewal";
    const auto temp = sts_assume_role(fixture_sts(), fixture_keys(), req);
    const auto now = std::chrono::system_clock::now();
    const auto json = nlohmann::json{{"Version", 1},
                                     {"AccessKeyId", temp.access_key_id},
                                     {"SecretAccessKey", temp.secret_access_key.reveal()},
                                     {"SessionToken", temp.session_token.reveal()},
                                     {"Expiration", "2200-01-01T00:00:00Z"}}
                          .dump();
    const auto counter = home / "runs";
    const auto script = credential_script(home, "temp", json, 0, counter.string());
    const auto env = clean_env(home);
    auto fetch = [&] { return run_credential_process(script.string(), "temp", env); };
    auto clock_now = std::make_shared<std::chrono::system_clock::time_point>(now);
    Credentials first = fetch();
    first.expiration = now + std::chrono::hours(1);
    auto provider =
        std::make_shared<CredentialProvider>(first, fetch, [clock_now] { return *clock_now; });
    Client client(options(), provider);
    const auto bucket = fx().at("bucket").get<std::string>();
    (void)client.list_objects(bucket, "creds/");
    CHECK(lines_of(counter) == 1);
    *clock_now = now + std::chrono::minutes(40);  // 20 min left: not yet (margin 15)
    (void)client.list_objects(bucket, "creds/");
    CHECK(lines_of(counter) == 1);
    *clock_now = now + std::chrono::minutes(46);  // 14 min left: renewed
    (void)client.list_objects(bucket, "creds/");
    CHECK(lines_of(counter) == 2);
    CHECK(provider->renewals() == 1);
    (void)client.list_objects(bucket, "creds/");  // the new ones last: no further run
    CHECK(lines_of(counter) == 2);
}

TEST_CASE("a failed renewal keeps valid credentials and fails once they expired") {
    const auto now = std::chrono::system_clock::now();
    auto clock_now = std::make_shared<std::chrono::system_clock::time_point>(now);
    Credentials first;
    first.access_key_id = "ASIAFIRST";
    first.secret_access_key = Secret("s");
    first.session_token = Secret("t");
    first.source = "test";
    first.expiration = now + std::chrono::hours(1);
    int calls = 0;
    CredentialProvider p(
        first,
        [&]() -> Credentials {
            ++calls;
            throw ConfigError("the identity provider is down");
        },
        [clock_now] { return *clock_now; });
    *clock_now = now + std::chrono::minutes(50);
    CHECK(p.current().access_key_id == "ASIAFIRST");
    CHECK(calls == 1);
    CHECK(p.current().access_key_id == "ASIAFIRST");  // not retried at once
    CHECK(calls == 1);
    *clock_now = now + std::chrono::minutes(61);
    CHECK_THROWS_WITH_AS(p.current(), doctest::Contains("identity provider is down"), ConfigError);
    CHECK(calls == 2);
}

TEST_CASE("explicit store credentials ignore a stale AWS_PROFILE and the shared files") {
    test::TempDir home;
    test::write_file(home / ".aws/config", "[default]\nthis line is malformed\n");
    store::StoreOptions so;
    so.s3 = options();
    so.credentials = fixture_keys();
    so.credential_sources.env = clean_env(home);
    (*so.credential_sources.env)["AWS_PROFILE"] = "deleted-long-ago";
    auto st =
        store::open("s3://" + fx().at("bucket").get<std::string>() + "/" + unique("explicit"), so);
    st->put_bytes("a", "explicit");
    CHECK(st->get_bytes("a") == "explicit");

    so.credentials.reset();  // now the chain is asked, and the stale profile matters
    test::write_file(home / ".aws/config", "[default]\nregion = us-east-1\n");
    const auto msg = message_of([&] { (void)store::open("s3://b", so); });
    CHECK(msg.find("deleted-long-ago") != std::string::npos);
}

TEST_CASE("nothing found: every source tried and why") {
    test::TempDir home;
    CredentialOptions o;
    o.env = clean_env(home);
    const auto msg = message_of([&] { resolve_config(o); });
    CHECK(msg.find("no AWS credentials found") != std::string::npos);
    CHECK(msg.find("environment: AWS_ACCESS_KEY_ID unset") != std::string::npos);
    CHECK(msg.find("profile 'default': not in") != std::string::npos);
    CHECK(msg.find("web identity: AWS_WEB_IDENTITY_TOKEN_FILE unset") != std::string::npos);

    (*o.env)["AWS_WEB_IDENTITY_TOKEN_FILE"] = "/var/run/token";
    test::write_file(home / ".aws/config", "[default]\nregion = eu-west-3\n");
    const auto msg2 = message_of([&] { resolve_config(o); });
    CHECK(msg2.find("web identity: AWS_ROLE_ARN unset") != std::string::npos);
    CHECK(msg2.find("profile 'default': no aws_access_key_id") != std::string::npos);
}
