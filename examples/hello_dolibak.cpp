// The smallest program against an installed libdolibak: prints the library's version and
// the SHA-256 of a file, streamed through the io layer.
#include <dolibak/core/error.hpp>
#include <dolibak/core/version.hpp>
#include <dolibak/io/hash.hpp>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: hello_dolibak FILE\n";
        return 2;
    }
    try {
        std::cout << "dolibak " << dolibak::version() << " sha256 "
                  << dolibak::io::sha256_file_hex(argv[1]) << "\n";
    } catch (const dolibak::Error& e) {
        std::cerr << "hello_dolibak: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
