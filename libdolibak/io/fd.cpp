#include <dolibak/io/fd.hpp>

#include <unistd.h>

namespace dolibak::io {

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) ::close(fd_);
    fd_ = fd;
}

}  // namespace dolibak::io
