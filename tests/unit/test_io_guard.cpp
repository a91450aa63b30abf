// SPDX-License-Identifier: Apache-2.0
//
// The poll that io_guard.cpp puts in place of libc's in sluice-dataplane: a
// worker never waits in it (DPDK's af_packet PMD would otherwise stop the
// worker when its TX ring is full: dataplane-tx-stall), every other thread
// gets poll as usual. A poll that waited where it must not would hang this
// test until CTest's timeout fails it.
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <poll.h>
#include <thread>
#include <unistd.h>

#include "io_guard.hpp"

namespace {

// A pipe whose buffer is full: its write end is not writable, its read end
// is readable.
struct FullPipe {
    int rd = -1;
    int wr = -1;
    FullPipe() {
        int fd[2];
        REQUIRE(pipe2(fd, O_NONBLOCK) == 0);
        rd = fd[0];
        wr = fd[1];
        char buf[4096] = {};
        while (write(wr, buf, sizeof(buf)) > 0) {
        }
        REQUIRE(errno == EAGAIN);
    }
    FullPipe(const FullPipe &) = delete;
    FullPipe &operator=(const FullPipe &) = delete;
    ~FullPipe() {
        close(rd);
        close(wr);
    }
};

// poll(fds, 1, timeout) from a thread bound as a worker; errno after it.
int worker_poll(pollfd *pfd, int timeout, int *err) {
    sluice::io_guard::bind_worker();
    errno = 0;
    const int r = poll(pfd, 1, timeout);
    *err = errno;
    sluice::io_guard::unbind_worker();
    return r;
}

} // namespace

TEST_CASE("io_guard poll: a worker's poll without a time limit fails at once with EAGAIN",
          "[io_guard]") {
    FullPipe p;
    int err = 0;
    SECTION("on an fd that is not ready (as af_packet's socket with its TX ring full)") {
        pollfd pfd{p.wr, POLLOUT, 0};
        CHECK(worker_poll(&pfd, -1, &err) == -1);
        CHECK(err == EAGAIN);
    }
    SECTION("even on one that is: the caller found its own frame busy before it asked") {
        pollfd pfd{p.rd, POLLIN, 0};
        CHECK(worker_poll(&pfd, -1, &err) == -1);
        CHECK(err == EAGAIN);
    }
}

TEST_CASE("io_guard poll: a worker's poll with a time limit runs without one", "[io_guard]") {
    FullPipe p;
    int err = 0;
    pollfd out{p.wr, POLLOUT, 0};
    CHECK(worker_poll(&out, 3600 * 1000, &err) == 0); // an hour, if it waited
    pollfd in{p.rd, POLLIN, 0};
    CHECK(worker_poll(&in, 3600 * 1000, &err) == 1);
    CHECK((in.revents & POLLIN) != 0);
}

TEST_CASE("io_guard poll: any other thread waits as with libc's poll", "[io_guard]") {
    int fd[2];
    REQUIRE(pipe(fd) == 0);
    pollfd pfd{fd[0], POLLIN, 0};
    CHECK(poll(&pfd, 1, 10) == 0); // nothing to read: the time limit runs out
    // Without a limit: returns once another thread writes.
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CHECK(write(fd[1], "x", 1) == 1);
    });
    CHECK(poll(&pfd, 1, -1) == 1);
    CHECK((pfd.revents & POLLIN) != 0);
    writer.join();
    // A thread that was a worker is one no longer after unbind_worker().
    int err = 0;
    CHECK(worker_poll(&pfd, -1, &err) == -1);
    CHECK(poll(&pfd, 1, -1) == 1);
    close(fd[0]);
    close(fd[1]);
}
