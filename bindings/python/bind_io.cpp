// dolibak.io: hashing of files and bytes, as the manifests record them; age encryption of
// bytes and files (include/dolibak/io/age.hpp).
#include "registry.hpp"

#include <dolibak/io/age.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>

namespace py = pybind11;

namespace dolibak::python {
namespace {

io::AgeRecipients recipients_of(const std::vector<std::string>& recipients,
                                const std::optional<std::string>& passphrase, int work_factor) {
    io::AgeRecipients r;
    r.x25519 = recipients;
    if (passphrase) r.passphrase = Secret(*passphrase);
    r.scrypt_work_factor = work_factor;
    return r;
}

io::AgeIdentities identities_of(const std::vector<std::string>& identities,
                                const std::optional<std::filesystem::path>& identity_file,
                                const std::optional<std::string>& passphrase, int max_work_factor) {
    io::AgeIdentities ids;
    for (const auto& id : identities) ids.x25519.emplace_back(id);
    if (identity_file) {
        io::FileSource src(*identity_file);
        const Secret text(io::read_all(src, 1 << 20));
        for (auto& id : io::age_parse_identity_file(text.reveal()))
            ids.x25519.push_back(std::move(id));
    }
    if (passphrase) ids.passphrase = Secret(*passphrase);
    ids.max_scrypt_work_factor = max_work_factor;
    if (ids.x25519.empty() && !ids.passphrase)
        throw ConfigError("age: no identity, identity file or passphrase to decrypt with");
    return ids;
}

const char* kind_name(io::AgeError::Kind k) {
    switch (k) {
        case io::AgeError::Kind::header:
            return "header";
        case io::AgeError::Kind::no_match:
            return "no_match";
        case io::AgeError::Kind::hmac:
            return "hmac";
        case io::AgeError::Kind::payload:
            return "payload";
    }
    return "header";
}

const Registrar registrar(10, [](py::module_& m) {
    auto io =
        m.def_submodule("io", "Streaming helpers: digests of files and bytes, age encryption");
    io.def(
        "sha256_file",
        [](const std::filesystem::path& path) {
            py::gil_scoped_release release;
            return io::sha256_file_hex(path);
        },
        py::arg("path"), "Lower-case hex SHA-256 of a file's bytes (streamed).");
    io.def(
        "sha256",
        [](py::bytes data) {
            const std::string_view view = data;
            return io::sha256_hex(view);
        },
        py::arg("data"), "Lower-case hex SHA-256 of bytes.");

    static py::exception<io::AgeError> age_error(io, "AgeError", m.attr("FormatError").ptr());
    age_error.doc() =
        "An age file that cannot be decrypted. `kind` says why: 'header' (malformed or not "
        "canonical), 'no_match' (no identity or passphrase given opens it), 'hmac' (the "
        "header was changed) or 'payload' (the data was changed, truncated or extended).";
    age_error.attr("kind") = "header";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const io::AgeError& e) {
            py::object exc = py::handle(age_error.ptr())(e.what());
            exc.attr("kind") = kind_name(e.kind());
            PyErr_SetObject(age_error.ptr(), exc.ptr());
        }
    });

    io.def(
        "age_generate_key",
        []() {
            auto pair = io::age_generate_key();
            return py::make_tuple(pair.identity.reveal(), pair.recipient);
        },
        "A new age X25519 key pair: (identity, recipient), the identity as "
        "'AGE-SECRET-KEY-1...' (keep it secret: it is what age-keygen writes to a key file), "
        "the recipient as 'age1...'.");
    io.def(
        "age_recipient",
        [](const std::string& identity) { return io::age_recipient_of(Secret(identity)); },
        py::arg("identity"),
        "The recipient ('age1...') of an identity ('AGE-SECRET-KEY-1...'), as age-keygen -y "
        "gives it. Raises ConfigError for a bad identity.");
    io.def(
        "age_encrypt",
        [](py::bytes data, const std::vector<std::string>& recipients,
           const std::optional<std::string>& passphrase, int work_factor) {
            const auto r = recipients_of(recipients, passphrase, work_factor);
            std::string plain = data;
            io::MemorySink out;
            {
                py::gil_scoped_release release;
                io::AgeEncryptSink enc(out, r);
                enc.write(io::as_bytes(plain));
                enc.finish();
            }
            return py::bytes(out.data());
        },
        py::arg("data"), py::arg("recipients") = std::vector<std::string>{},
        py::arg("passphrase") = std::nullopt, py::arg("work_factor") = 18,
        "Encrypts bytes into an age v1 file for X25519 recipients ('age1...'), or for one "
        "passphrase (scrypt, log2 N = work_factor); the two cannot be combined.");
    io.def(
        "age_decrypt",
        [](py::bytes data, const std::vector<std::string>& identities,
           const std::optional<std::filesystem::path>& identity_file,
           const std::optional<std::string>& passphrase, int max_work_factor) {
            const auto ids = identities_of(identities, identity_file, passphrase, max_work_factor);
            std::string file = data;
            io::MemorySink out;
            {
                py::gil_scoped_release release;
                io::MemorySource src(file);
                io::AgeDecryptSource dec(src, ids);
                io::pump(dec, out);
            }
            return py::bytes(out.data());
        },
        py::arg("data"), py::arg("identities") = std::vector<std::string>{},
        py::arg("identity_file") = std::nullopt, py::arg("passphrase") = std::nullopt,
        py::arg("max_work_factor") = 22,
        "Decrypts an age v1 file (binary, not armored) with X25519 identities (given, or read "
        "from an age-keygen identity file) and/or a passphrase. Raises AgeError when it cannot "
        "be decrypted or was tampered with; scrypt work factors above max_work_factor are "
        "refused.");
    io.def(
        "age_encrypt_file",
        [](const std::filesystem::path& src, const std::filesystem::path& dst,
           const std::vector<std::string>& recipients, const std::optional<std::string>& passphrase,
           int work_factor) {
            const auto r = recipients_of(recipients, passphrase, work_factor);
            py::gil_scoped_release release;
            io::FileSource in(src);
            io::AtomicFileSink out(dst, 0600);
            io::AgeEncryptSink enc(out, r);
            io::pump(in, enc);
            enc.finish();
        },
        py::arg("src"), py::arg("dst"), py::arg("recipients") = std::vector<std::string>{},
        py::arg("passphrase") = std::nullopt, py::arg("work_factor") = 18,
        "Encrypts the file src into the age file dst, streamed (a few 64 KiB chunks in "
        "memory); dst appears (mode 0600) only once it is complete.");
    io.def(
        "age_decrypt_file",
        [](const std::filesystem::path& src, const std::filesystem::path& dst,
           const std::vector<std::string>& identities,
           const std::optional<std::filesystem::path>& identity_file,
           const std::optional<std::string>& passphrase, int max_work_factor) {
            const auto ids = identities_of(identities, identity_file, passphrase, max_work_factor);
            py::gil_scoped_release release;
            io::FileSource in(src);
            io::AtomicFileSink out(dst, 0600);
            io::AgeDecryptSource dec(in, ids);
            io::pump(dec, out);
            out.finish();
        },
        py::arg("src"), py::arg("dst"), py::arg("identities") = std::vector<std::string>{},
        py::arg("identity_file") = std::nullopt, py::arg("passphrase") = std::nullopt,
        py::arg("max_work_factor") = 22,
        "Decrypts the age file src into dst, streamed; dst appears (mode 0600) only when the "
        "whole file decrypted and authenticated, never after an AgeError.");
});

}  // namespace
}  // namespace dolibak::python
