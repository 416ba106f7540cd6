// trace-floor: the least a ptrace tracer with a seccomp filter can do per
// path system call, for bench/trace.sh to compare fromscratch trace with.
// It stops the tracee on the same system calls (SECCOMP_RET_TRACE), and at
// each stop reads the call (PTRACE_GET_SYSCALL_INFO), copies the path out
// (process_vm_readv) and looks it up (fstatat), as fromscratch's tracer
// does to decide found or not at the call's entry; then it resumes the
// tracee. It records nothing, follows forks, vforks, clones and execs, and
// passes signals on. Linux x86-64 or arm64.
//
//   cc -O2 -o trace-floor trace-floor.c && ./trace-floor PROGRAM [ARGS...]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <linux/ptrace.h> // after sys/ptrace.h: struct ptrace_syscall_info
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

// The traced calls and the index of their path argument (-1: an fd).
static const struct { int nr, path; } calls[] = {
#ifdef __NR_open
    {__NR_open, 0}, {__NR_creat, 0}, {__NR_stat, 0}, {__NR_lstat, 0},
    {__NR_readlink, 0}, {__NR_access, 0}, {__NR_mkdir, 0}, {__NR_mknod, 0},
    {__NR_rename, 1}, {__NR_link, 1}, {__NR_symlink, 1}, {__NR_getdents, -1},
#endif
    {__NR_openat, 1}, {__NR_openat2, 1}, {__NR_execve, 0}, {__NR_execveat, 1},
    {__NR_newfstatat, 1}, {__NR_statx, 1}, {__NR_readlinkat, 1},
    {__NR_faccessat, 1}, {__NR_faccessat2, 1}, {__NR_chdir, 0},
    {__NR_getdents64, -1}, {__NR_mkdirat, 1}, {__NR_mknodat, 1},
    {__NR_renameat, 3}, {__NR_renameat2, 3}, {__NR_linkat, 3},
    {__NR_symlinkat, 2},
};
#define NCALLS (sizeof calls / sizeof calls[0])

static void probe(pid_t pid, unsigned long long addr) {
  char path[257] = {0}, name[300];
  struct iovec local = {path, 256}, remote = {(void *)addr, 256};
  struct stat st;
  process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (path[0] != '/') {
    snprintf(name, sizeof name, "/proc/%d/cwd/%s", pid, path);
    fstatat(AT_FDCWD, name, &st, 0);
  } else {
    fstatat(AT_FDCWD, path, &st, 0);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: trace-floor PROGRAM [ARGS...]\n");
    return 2;
  }
  struct sock_filter prog[2 + 2 * NCALLS];
  int n = 0;
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (size_t i = 0; i < NCALLS; i++) {
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, calls[i].nr, 0, 1);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | i);
  }
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

  pid_t child = fork();
  if (child == 0) {
    struct sock_fprog fprog = {n, prog};
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog)) {
      perror("trace-floor: seccomp");
      _exit(127);
    }
    execvp(argv[1], argv + 1);
    perror(argv[1]);
    _exit(127);
  }
  int ws, code = 1;
  waitpid(child, &ws, 0);
  ptrace(PTRACE_SETOPTIONS, child, 0,
         PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK |
             PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC);
  ptrace(PTRACE_CONT, child, 0, 0);
  for (;;) {
    pid_t pid = waitpid(-1, &ws, __WALL);
    if (pid < 0)
      break;
    if (WIFEXITED(ws) || WIFSIGNALED(ws)) {
      if (pid == child)
        code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
      continue;
    }
    int sig = WSTOPSIG(ws);
    if (ws >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
      struct ptrace_syscall_info si;
      if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si, &si) > 0 &&
          si.op == PTRACE_SYSCALL_INFO_SECCOMP && si.seccomp.ret_data < NCALLS &&
          calls[si.seccomp.ret_data].path >= 0)
        probe(pid, si.seccomp.args[calls[si.seccomp.ret_data].path]);
      sig = 0;
    } else if (sig == SIGTRAP || sig == SIGSTOP) {
      sig = 0; // ptrace events and new tasks' first stops
    }
    ptrace(PTRACE_CONT, pid, 0, sig);
  }
  return code;
}
