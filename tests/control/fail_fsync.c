// SPDX-License-Identifier: Apache-2.0
//
// LD_PRELOAD shim for the persistence test: while the file named by
// SLUICE_TEST_FAIL_DIR_FSYNC exists, fsync of a directory fails with EIO,
// as on a disk that fails under the daemon right after a rename.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync(int fd) {
    static int (*real_fsync)(int);
    if (real_fsync == NULL) {
        real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    const char *trigger = getenv("SLUICE_TEST_FAIL_DIR_FSYNC");
    struct stat st;
    if (trigger != NULL && access(trigger, F_OK) == 0 && fstat(fd, &st) == 0 &&
        S_ISDIR(st.st_mode)) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}
