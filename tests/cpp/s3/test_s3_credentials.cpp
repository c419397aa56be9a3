// Credentials and settings resolution: environment, shared files, profiles; no secret in
// any message.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/s3/client.hpp>
#include <dolibak/s3/credentials.hpp>

#include "s3/answers.hpp"
#include "s3/credential_sources.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

using namespace dolibak;
using namespace dolibak::s3;

TEST_CASE("the environment wins over the files") {
    test::TempDir home;
    test::write_file(
        home / ".aws/credentials",
        "[default]\naws_access_key_id = AKFILE\naws_secret_access_key = file-secret\n");
    CredentialOptions o;
    o.env = std::map<std::string, std::string>{{"HOME", home.path().string()},
                                               {"AWS_ACCESS_KEY_ID", "AKENV"},
                                               {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                                               {"AWS_SESSION_TOKEN", "tok"}};
    auto c = resolve_credentials(o);
    CHECK(c.access_key_id == "AKENV");
    CHECK(c.secret_access_key.reveal() == "env-secret");
    CHECK(c.session_token.reveal() == "tok");
    CHECK(c.source.find("environment") != std::string::npos);
    o.env->erase("AWS_ACCESS_KEY_ID");
    c = resolve_credentials(o);
    CHECK(c.access_key_id == "AKFILE");
    CHECK(c.session_token.empty());
    CHECK(c.source.find("profile default") != std::string::npos);
}

TEST_CASE("profiles, config file, region, endpoint and addressing style") {
    test::TempDir home;
    test::write_file(home / "creds",
                     "# comment\n[default]\naws_access_key_id=AKDEF\naws_secret_access_key=d\n\n"
                     "[backup]\naws_access_key_id = AKBACKUP\naws_secret_access_key = b s\n"
                     "aws_session_token = t1\n");
    test::write_file(home / "config",
                     "[default]\nregion = us-east-1\n[profile backup]\nregion = eu-west-3\n"
                     "endpoint_url = https://s3.example.net\ns3 =\n  addressing_style = path\n"
                     "[profile cfgonly]\naws_access_key_id = AKCFG\naws_secret_access_key = c\n");
    CredentialOptions o;
    o.env = std::map<std::string, std::string>{
        {"HOME", home.path().string()},
        {"AWS_SHARED_CREDENTIALS_FILE", (home / "creds").string()},
        {"AWS_CONFIG_FILE", (home / "config").string()},
        {"AWS_PROFILE", "backup"}};
    auto rc = resolve_config(o);
    CHECK(rc.profile == "backup");
    CHECK(rc.credentials.access_key_id == "AKBACKUP");
    CHECK(rc.credentials.secret_access_key.reveal() == "b s");
    CHECK(rc.credentials.session_token.reveal() == "t1");
    CHECK(rc.region == "eu-west-3");
    CHECK(rc.endpoint_url == "https://s3.example.net");
    CHECK(rc.addressing_style == "path");

    (*o.env)["AWS_REGION"] = "auto";
    (*o.env)["AWS_ENDPOINT_URL"] = "https://acc.r2.cloudflarestorage.com";
    rc = resolve_config(o);
    CHECK(rc.region == "auto");
    CHECK(rc.endpoint_url == "https://acc.r2.cloudflarestorage.com");
    auto cfg = client_config_from_environment(o);
    CHECK(cfg.options.region == "auto");
    CHECK(cfg.options.addressing == AddressingStyle::path);

    o.profile = "cfgonly";
    CHECK(resolve_credentials(o).access_key_id == "AKCFG");

    o.profile = "nosuch";
    try {
        resolve_config(o);
        FAIL("no error");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("nosuch") != std::string::npos);
    }
}

TEST_CASE("explicit region, addressing and CA bundle win; the environment and profile fill gaps") {
    test::TempDir home;
    test::write_file(home / "config",
                     "[profile backup]\nregion = eu-west-3\nca_bundle = /profile/ca.pem\n"
                     "aws_access_key_id = AK\naws_secret_access_key = s\n"
                     "s3 =\n  addressing_style = path\n");
    CredentialOptions o;
    o.env = std::map<std::string, std::string>{{"HOME", home.path().string()},
                                               {"AWS_CONFIG_FILE", (home / "config").string()},
                                               {"AWS_PROFILE", "backup"},
                                               {"AWS_REGION", "ap-south-1"}};
    SUBCASE("nothing explicit: AWS_REGION, the profile's addressing style and ca_bundle") {
        const auto cfg = client_config_from_environment(o);
        CHECK(cfg.options.region == "ap-south-1");
        CHECK(cfg.options.addressing == AddressingStyle::path);
        CHECK(cfg.options.ca_bundle == "/profile/ca.pem");
        o.env->erase("AWS_REGION");
        CHECK(client_config_from_environment(o).options.region == "eu-west-3");
    }
    SUBCASE("AWS_CA_BUNDLE before the profile's ca_bundle") {
        (*o.env)["AWS_CA_BUNDLE"] = "/env/ca.pem";
        CHECK(client_config_from_environment(o).options.ca_bundle == "/env/ca.pem");
    }
    SUBCASE("explicit us-east-1, auto addressing and a CA bundle are kept") {
        ClientOptions base;
        base.region = "us-east-1";
        base.addressing = AddressingStyle::automatic;
        base.ca_bundle = "/explicit/ca.pem";
        (*o.env)["AWS_CA_BUNDLE"] = "/env/ca.pem";
        const auto cfg = client_config_from_environment(o, base);
        CHECK(cfg.options.region == "us-east-1");
        CHECK(cfg.options.addressing == AddressingStyle::automatic);
        CHECK(cfg.options.ca_bundle == "/explicit/ca.pem");
    }
    SUBCASE("a CA bundle from the environment is used: a missing file is refused") {
        (*o.env)["AWS_CA_BUNDLE"] = (home / "no-such-ca.pem").string();
        auto cfg = client_config_from_environment(o);
        CHECK_THROWS_WITH_AS(Client(cfg.options, cfg.credentials),
                             doctest::Contains("CA bundle not found"), ConfigError);
    }
}

TEST_CASE("missing credentials and malformed files are ConfigErrors without secrets") {
    test::TempDir home;
    CredentialOptions o;
    o.env = std::map<std::string, std::string>{{"HOME", home.path().string()}};
    CHECK_THROWS_AS(resolve_credentials(o), ConfigError);
    test::write_file(home / ".aws/credentials", "[default]\nthis line has no equals sign SECRET\n");
    try {
        resolve_credentials(o);
        FAIL("no error");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find(":2:") != std::string::npos);
        CHECK(std::string(e.what()).find("SECRET") == std::string::npos);
    }
    const auto ini = parse_aws_ini("[a]\nk = v = w\n; c\n", "x");
    CHECK(ini.at("a").at("k") == "v = w");
}

TEST_CASE("credential_process command lines split like aws-cli, without a shell") {
    CHECK(split_command_line("/usr/bin/tool --a b") ==
          std::vector<std::string>{"/usr/bin/tool", "--a", "b"});
    CHECK(split_command_line("  tool  'two words' \"x \\\"y\\\" $HOME\"  a\\ b ") ==
          std::vector<std::string>{"tool", "two words", "x \"y\" $HOME", "a b"});
    CHECK(split_command_line("tool 'it''s'") == std::vector<std::string>{"tool", "its"});
    CHECK(split_command_line("tool ; rm -rf /") ==
          std::vector<std::string>{"tool", ";", "rm", "-rf", "/"});
    CHECK_THROWS_AS(split_command_line("tool 'open"), ConfigError);
    CHECK_THROWS_AS(split_command_line("tool \"open"), ConfigError);
    CHECK_THROWS_AS(split_command_line("   "), ConfigError);
}

TEST_CASE("credential_process output and expiration times") {
    auto c = parse_process_credentials(
        R"({"Version": 1, "AccessKeyId": "ASIAX", "SecretAccessKey": "s", "SessionToken": "t",)"
        R"( "Expiration": "2030-01-02T03:04:05Z"})",
        "p");
    CHECK(c.access_key_id == "ASIAX");
    CHECK(c.session_token.reveal() == "t");
    REQUIRE(c.expiration.has_value());
    CHECK(amz_date(*c.expiration) == "20300102T030405Z");
    CHECK(amz_date(parse_expiration("2030-01-02T05:04:05+02:00")) == "20300102T030405Z");
    CHECK(amz_date(parse_expiration("2030-01-02T03:04:05.123-01:30")) == "20300102T043405Z");
    CHECK_THROWS_AS(parse_process_credentials(R"({"Version": 1, "AccessKeyId": "A"})", "p"),
                    ConfigError);
    CHECK_THROWS_AS(parse_process_credentials("[1]", "p"), ConfigError);
}

TEST_CASE("STS answers: credentials and errors") {
    const std::string ok =
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<AssumeRoleResult><Credentials><AccessKeyId>ASIAQ</AccessKeyId>"
        "<SecretAccessKey>sk</SecretAccessKey><SessionToken>tok</SessionToken>"
        "<Expiration>2030-01-02T03:04:05.000Z</Expiration></Credentials>"
        "</AssumeRoleResult></AssumeRoleResponse>";
    const auto c = parse_sts_credentials(ok, "AssumeRole");
    CHECK(c.access_key_id == "ASIAQ");
    CHECK(c.secret_access_key.reveal() == "sk");
    CHECK(c.session_token.reveal() == "tok");
    REQUIRE(c.expiration.has_value());
    CHECK(amz_date(*c.expiration) == "20300102T030405Z");
    CHECK_THROWS_AS(parse_sts_credentials(ok, "AssumeRoleWithWebIdentity"), FormatError);
    std::string no_token = ok;
    no_token.replace(no_token.find("<SessionToken>tok</SessionToken>"), 32, "");
    try {
        (void)parse_sts_credentials(no_token, "AssumeRole");
        FAIL("no error");
    } catch (const FormatError& e) {
        CHECK(std::string(e.what()).find("sk") == std::string::npos);
    }
    const auto e = parse_sts_error(
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        "<Message>no</Message></Error><RequestId>r-1</RequestId></ErrorResponse>");
    CHECK(e.code == "AccessDenied");
    CHECK(e.message == "no");
    CHECK(e.request_id == "r-1");
}

TEST_CASE("role_arn without source_profile: web identity's with a token file, else an error") {
    test::TempDir home;
    test::write_file(home / ".aws/config",
                     "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
                     "[profile c]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
                     "credential_source = Ec2InstanceMetadata\n");
    CredentialOptions o;
    o.env =
        std::map<std::string, std::string>{{"HOME", home.path().string()}, {"AWS_PROFILE", "r"}};
    CHECK_THROWS_WITH_AS(resolve_config(o), doctest::Contains("role_arn needs source_profile"),
                         ConfigError);
    (*o.env)["AWS_PROFILE"] = "c";
    CHECK_THROWS_WITH_AS(resolve_config(o), doctest::Contains("credential_source is not supported"),
                         ConfigError);
    // With a token file in the environment the profile's role_arn goes to web identity
    // (STS on a closed port here: the error says which call was made, for which role).
    (*o.env)["AWS_PROFILE"] = "r";
    test::write_file(home / "token", "tok\n");
    (*o.env)["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home / "token").string();
    (*o.env)["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9";
    CHECK_THROWS_WITH_AS(
        resolve_config(o),
        doctest::Contains("AssumeRoleWithWebIdentity for role arn:aws:iam::123456789012:role/r"),
        RemoteError);
}

TEST_CASE("a credential_process that hangs is killed after its timeout") {
    test::TempDir home;
    const auto script = home / "hang.sh";
    test::write_file(script, "#!/bin/sh\nsleep 30\necho done\n");  // a grandchild holds stdout
    ::chmod(script.c_str(), 0700);
    const std::map<std::string, std::string> env{{"PATH", "/usr/bin:/bin"}};
    const auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(
        run_credential_process(script.string(), "slow", env, std::chrono::seconds(1)),
        doctest::Contains("did not finish within 1 s"), ConfigError);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
}
