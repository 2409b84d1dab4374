/* SPDX-License-Identifier: MIT */
/* Small process and file-system helpers for the backup commands, and progress reporting. */
#include "cli/backup.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void dtm_progress_begin(dtm_progress_t *p, const char *what, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->total = total;
    p->started = p->last = dtm_mono_s();
    p->tty = isatty(STDERR_FILENO);
}

static void progress_print(dtm_progress_t *p, bool final)
{
    double el = dtm_mono_s() - p->started;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 && p->total > p->done ? (double)(p->total - p->done) / rate : 0;
    if (p->tty) {
        fprintf(stderr, "\r%s: %.1f/%.1f MiB  %.1f MiB/s  ETA %.0fs   %s", p->what,
                (double)p->done / 1048576.0, (double)p->total / 1048576.0, rate / 1048576.0, eta,
                final ? "\n" : "");
    } else {
        json_t *f = json_pack("{s:s,s:I,s:I,s:f,s:f}", "operation", p->what, "bytesDone",
                              (json_int_t)p->done, "bytesTotal", (json_int_t)p->total,
                              "bytesPerSecond", rate, "etaSeconds", eta);
        dtm_log_with(DTM_LOG_INFO, f, "%s %s", p->what, final ? "done" : "progress");
    }
}

void dtm_progress_add(dtm_progress_t *p, uint64_t n)
{
    p->done += n;
    double now = dtm_mono_s();
    if (now - p->last >= (p->tty ? 0.2 : 5.0)) {
        p->last = now;
        progress_print(p, false);
    }
}

void dtm_progress_end(dtm_progress_t *p)
{
    progress_print(p, true);
}

int dtm_sha256_file(const char *path, char out[65], uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        if (size)
            *size += (uint64_t)n;
    }
    close(fd);
    if (n < 0)
        return -1;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(out, 65, digest, sizeof digest);
    return 0;
}

extern char **environ;

/* fork + execvp + wait. envp (NULL: ours) is built by the caller before the fork, so that the
 * child only does async-signal-safe work. */
static int spawn_wait(char *const argv[], bool as_postgres, char **envp)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (as_postgres && geteuid() == 0) {
            /* PostgreSQL's server tools refuse to run as root. */
            struct passwd *pw = getpwnam("postgres");
            if (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
                fprintf(stderr, "cannot switch to the postgres user\n");
                _exit(127);
            }
        }
        if (envp)
            environ = envp;
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
}

int dtm_run(char *const argv[], bool as_postgres)
{
    return spawn_wait(argv, as_postgres, NULL);
}

int dtm_run_with_password(char *const argv[], const char *password)
{
    if (!password)
        return spawn_wait(argv, false, NULL);
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = dtm_calloc(n + 2, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PGPASSWORD=", 11) != 0)
            envp[k++] = environ[i];
    size_t plen = strlen(password);
    char *pw = dtm_alloc(plen + 12);
    memcpy(pw, "PGPASSWORD=", 11);
    memcpy(pw + 11, password, plen + 1);
    envp[k] = pw;
    int rc = spawn_wait(argv, false, envp);
    sodium_memzero(pw, plen + 12);
    free(pw);
    free(envp);
    return rc;
}

int dtm_mkdirs(const char *path, unsigned mode)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int dtm_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        return -1;
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (dtm_rmtree(child) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

bool dtm_dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return true;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = false;
            break;
        }
    closedir(d);
    return empty;
}
