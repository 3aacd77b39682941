//! `exec`: runs a local program from an allowlist, as an argv array.
//!
//! There is no shell anywhere on this path: argv[0] must be the absolute
//! path of a program listed in `actions.exec.allowed` (compared exactly;
//! no PATH search, no `..`), and every other element reaches the program
//! as one argument, whatever characters it holds (`; rm -rf /`, `$(id)`).
//! The program starts with an empty environment except `PATH` (Riposte's
//! own), the step's `env` and `RIPOSTE_IDEMPOTENCY_KEY`, in `/`, in a
//! process group of its own, with stdin from the step's `stdin` or empty.
//! Its stdout and stderr are each kept up to a bound (the rest is read and
//! dropped, so the program is not blocked on a full pipe). When it exits,
//! or when it runs past its timeout, or when the step is abandoned, the
//! whole process group is killed: nothing it started in the group outlives
//! the step; a process that left the group (`setsid`) and holds the pipes
//! is read for [`PIPE_GRACE`] more, then the step ends anyway.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use riposte_playbooks::{ActionResult, StepCall};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::http::show_duration;
use crate::{ActionsError, ExecConfig, Input};

/// Environment variables a step may not set: the ones Riposte sets, and
/// those that make a loader, shell or interpreter run other code than
/// the allowed program (values may come from an alert).
const RESERVED_ENV: [&str; 20] = [
    "PATH",
    "RIPOSTE_IDEMPOTENCY_KEY",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "GCONV_PATH",
    "PERL5OPT",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "NODE_OPTIONS",
    "RUBYOPT",
    "RUBYLIB",
    "PERL5LIB",
    "PERLLIB",
    "PYTHONHOME",
    "NODE_PATH",
    "JAVA_TOOL_OPTIONS",
];
const RESERVED_ENV_PREFIXES: [&str; 3] = ["LD_", "DYLD_", "BASH_FUNC_"];

/// How long the pipes are read after the program ended or was killed.
const PIPE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The most of stderr quoted in a failure message.
const STDERR_IN_MESSAGE: usize = 500;

/// Checks one `actions.exec.allowed` entry.
pub(crate) fn check_allowed_entry(path: &Path) -> Result<(), String> {
    if !path.is_absolute() {
        return Err(format!(
            "{:?} is not an absolute path",
            path.display().to_string()
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "{:?} has a `..` component",
            path.display().to_string()
        ));
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct Exec {
    allowed: Vec<PathBuf>,
    max_output: usize,
    timeout: Duration,
    path: OsString,
}

impl Exec {
    pub(crate) fn new(config: ExecConfig) -> Result<Self, ActionsError> {
        for p in &config.allowed {
            check_allowed_entry(p).map_err(ActionsError::Exec)?;
        }
        Ok(Self {
            allowed: config.allowed,
            max_output: config.max_output,
            timeout: config.timeout,
            path: std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        })
    }

    fn program(&self, argv0: &str) -> Result<PathBuf, String> {
        if self.allowed.is_empty() {
            return Err("exec is disabled: no program is allowed (actions.exec.allowed)".into());
        }
        let path = PathBuf::from(argv0);
        if let Err(e) = check_allowed_entry(&path) {
            return Err(format!(
                "argv[0]: {e}; programs are named by their absolute path in actions.exec.allowed, \
                 and never run through a shell"
            ));
        }
        if !self.allowed.iter().any(|a| a == &path) {
            let list: Vec<String> = self
                .allowed
                .iter()
                .map(|a| a.display().to_string())
                .collect();
            return Err(format!(
                "argv[0]: {argv0:?} is not in actions.exec.allowed ({})",
                list.join(", ")
            ));
        }
        Ok(path)
    }

    pub(crate) async fn run(&self, call: &StepCall<'_>) -> Result<ActionResult, String> {
        let input = Input::of(call);
        let argv = input.list("argv");
        let Some(argv0) = argv.first() else {
            return Err("input argv: empty; give the program and its arguments".into());
        };
        let program = self.program(argv0)?;
        let env = input.map("env");
        for (name, _) in &env {
            check_env_name(name)?;
        }
        let limit = match input.int("max_output") {
            Some(n) if n <= 0 => return Err("input max_output: must be more than 0".into()),
            Some(n) => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(self.max_output),
            None => self.max_output,
        };
        let timeout = call.timeout.map_or(self.timeout, |t| t.min(self.timeout));
        let stdin = input.str("stdin").map(|s| s.as_bytes().to_vec());

        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&argv[1..])
            .env_clear()
            .env("PATH", &self.path)
            .envs(env)
            .env("RIPOSTE_IDEMPOTENCY_KEY", &call.idempotency_key)
            .current_dir("/")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {argv0}: {e}"))?;
        // From here on, however this ends (exit, timeout, the step being
        // abandoned), the process group is killed.
        let group = GroupKiller(child.id());
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            tokio::spawn(async move {
                // A program that does not read its input closes the pipe:
                // not an error of the step.
                let _ = pipe.write_all(&bytes).await;
            });
        }
        let (exited, stop) = tokio::sync::watch::channel(false);
        let stdout = tokio::spawn(read_capped(child.stdout.take(), limit, stop.clone()));
        let stderr = tokio::spawn(read_capped(child.stderr.take(), limit, stop));
        let status = tokio::time::timeout(timeout, child.wait()).await;
        group.kill();
        // A process that left the group (`setsid`) may hold the pipes open:
        // what it writes in the grace after the program ended is kept, then
        // the reading stops, so the step ends when its program does.
        tokio::spawn(async move {
            tokio::time::sleep(PIPE_GRACE).await;
            let _ = exited.send(true);
        });
        let status = match status {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => return Err(format!("waiting for {argv0}: {e}")),
            Err(_) => {
                let _ = child.wait().await;
                None
            }
        };
        let (out, out_cut) = stdout.await.unwrap_or_default();
        let (err, err_cut) = stderr.await.unwrap_or_default();
        let Some(status) = status else {
            return Err(format!(
                "{argv0} timed out after {}; its process group was killed",
                show_duration(timeout)
            ));
        };
        let stdout = String::from_utf8_lossy(&out).into_owned();
        let stderr = String::from_utf8_lossy(&err).into_owned();
        let Some(code) = status.code() else {
            use std::os::unix::process::ExitStatusExt;
            return Err(format!(
                "{argv0} was killed by signal {}{}",
                status.signal().unwrap_or_default(),
                stderr_end(&stderr)
            ));
        };
        if code != 0 {
            return Err(format!(
                "{argv0} exited with code {code}{}",
                stderr_end(&stderr)
            ));
        }
        Ok(ActionResult::done(json!({
            "exit_code": code,
            "stdout": stdout,
            "stderr": stderr,
            "truncated": out_cut || err_cut,
        })))
    }
}

fn check_env_name(name: &str) -> Result<(), String> {
    let valid = name
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if name.is_empty() || !valid {
        return Err(format!(
            "input env: {name:?} is not an environment variable name"
        ));
    }
    if RESERVED_ENV.contains(&name) || RESERVED_ENV_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Err(format!(
            "input env: {name} may not be set by a step (it is set by Riposte, or makes \
             a loader or interpreter run other code)"
        ));
    }
    Ok(())
}

/// `: <the end of stderr>`, for a failure message.
fn stderr_end(stderr: &str) -> String {
    let t = crate::tail(stderr.trim_end(), STDERR_IN_MESSAGE).trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(": {t}")
    }
}

/// Reads a pipe to its end, keeping the first `limit` bytes.
async fn read_capped<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    limit: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            r = pipe.read(&mut buf) => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limit - kept.len();
                if n > room {
                    kept.extend_from_slice(&buf[..room]);
                    cut = true;
                } else {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
    (kept, cut)
}

/// Kills a child's process group (the child is its leader) when told to
/// or when dropped.
struct GroupKiller(Option<u32>);

impl GroupKiller {
    fn kill(&self) {
        let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) else {
            return;
        };
        // Never 0 or 1: kill(-1) would signal every process we may signal.
        if pid > 1
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            // ESRCH: the group is gone already.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;
    use crate::testutil::{Call, done, failed};

    fn exec(allowed: &[&str]) -> Exec {
        Exec::new(ExecConfig {
            allowed: allowed.iter().map(PathBuf::from).collect(),
            ..ExecConfig::default()
        })
        .unwrap()
    }

    fn call(input: serde_json::Value) -> Call {
        Call::new("exec", input)
    }

    #[tokio::test]
    async fn shell_metacharacters_are_passed_literally() {
        let args = [
            "; rm -rf /",
            "$(id)",
            "`id`",
            "a | cat /etc/passwd",
            "&& touch /tmp/pwned",
            "*",
            "'\"quoted\"'",
            "line\nbreak",
        ];
        let mut argv = vec!["/usr/bin/printf", "[%s]\\n"];
        argv.extend(args);
        let out = done(
            exec(&["/usr/bin/printf"])
                .run(&call(json!({"argv": argv})).step())
                .await,
        );
        let expected: String = args.iter().map(|a| format!("[{a}]\n")).collect();
        assert_eq!(
            out,
            json!({"exit_code": 0, "stdout": expected, "stderr": "", "truncated": false})
        );
    }

    #[tokio::test]
    async fn only_allowed_programs_by_absolute_path() {
        let e = exec(&["/usr/bin/printf"]);
        for (argv0, msg) in [
            (
                "/bin/sh",
                "argv[0]: \"/bin/sh\" is not in actions.exec.allowed (/usr/bin/printf)",
            ),
            (
                "printf",
                "argv[0]: \"printf\" is not an absolute path; programs are named by their absolute path in actions.exec.allowed, and never run through a shell",
            ),
            (
                "/usr/bin/../bin/printf",
                "argv[0]: \"/usr/bin/../bin/printf\" has a `..` component; programs are named by their absolute path in actions.exec.allowed, and never run through a shell",
            ),
        ] {
            assert_eq!(
                failed(e.run(&call(json!({"argv": [argv0, "x"]})).step()).await),
                msg
            );
        }
        assert_eq!(
            failed(
                exec(&[])
                    .run(&call(json!({"argv": ["/usr/bin/printf", "x"]})).step())
                    .await
            ),
            "exec is disabled: no program is allowed (actions.exec.allowed)"
        );
        assert_eq!(
            failed(e.run(&call(json!({"argv": []})).step()).await),
            "input argv: empty; give the program and its arguments"
        );
        assert!(matches!(
            Exec::new(ExecConfig {
                allowed: vec!["printf".into()],
                ..ExecConfig::default()
            }),
            Err(ActionsError::Exec(m)) if m == "\"printf\" is not an absolute path"
        ));
    }

    #[tokio::test]
    async fn the_environment_is_cleared_but_for_path_env_and_the_key() {
        let c = call(json!({"argv": ["/usr/bin/env"], "env": {"TARGET": "203.0.113.7 $(id)"}}));
        let out = done(exec(&["/usr/bin/env"]).run(&c.step()).await);
        let mut lines: Vec<&str> = out["stdout"].as_str().unwrap().lines().collect();
        lines.sort_unstable();
        let path = format!("PATH={}", std::env::var("PATH").unwrap());
        let key = format!("RIPOSTE_IDEMPOTENCY_KEY={}", c.key());
        let mut want = vec![path.as_str(), key.as_str(), "TARGET=203.0.113.7 $(id)"];
        want.sort_unstable();
        assert_eq!(lines, want);
        for (name, msg) in [
            (
                "LD_PRELOAD",
                "input env: LD_PRELOAD may not be set by a step (it is set by Riposte, or makes a loader or interpreter run other code)",
            ),
            (
                "PATH",
                "input env: PATH may not be set by a step (it is set by Riposte, or makes a loader or interpreter run other code)",
            ),
            (
                "A=B",
                "input env: \"A=B\" is not an environment variable name",
            ),
        ] {
            let c = call(json!({"argv": ["/usr/bin/env"], "env": {name: "/tmp/x.so"}}));
            assert_eq!(failed(exec(&["/usr/bin/env"]).run(&c.step()).await), msg);
        }
    }

    #[tokio::test]
    async fn stdin_reaches_the_program() {
        let out = done(
            exec(&["/bin/cat"])
                .run(&call(json!({"argv": ["/bin/cat"], "stdin": "alert 42\n"})).step())
                .await,
        );
        assert_eq!(out["stdout"], "alert 42\n");
    }

    #[tokio::test]
    async fn output_is_capped_and_the_program_is_not_blocked() {
        // seq writes 588,895 bytes: far past the pipe buffer and the cap.
        let out = done(
            exec(&["/usr/bin/seq"])
                .run(&call(json!({"argv": ["/usr/bin/seq", "100000"], "max_output": 1000})).step())
                .await,
        );
        assert_eq!(out["exit_code"], 0);
        assert_eq!(out["truncated"], true);
        let text = out["stdout"].as_str().unwrap();
        assert_eq!(text.len(), 1000);
        assert!(text.starts_with("1\n2\n3\n"), "{text}");
    }

    #[tokio::test]
    async fn a_failing_program_is_a_failure_with_its_code_and_stderr() {
        let e = exec(&["/bin/sh"]);
        let c = call(
            json!({"argv": ["/bin/sh", "-c", "echo starting; echo 'no such host' >&2; exit 3"]}),
        );
        assert_eq!(
            failed(e.run(&c.step()).await),
            "/bin/sh exited with code 3: no such host"
        );
        let c = call(json!({"argv": ["/bin/sh", "-c", "kill -TERM $$"]}));
        assert_eq!(
            failed(e.run(&c.step()).await),
            "/bin/sh was killed by signal 15"
        );
        let c = call(json!({"argv": ["/bin/sh", "-c", "x", "nul\u{0}byte"]}));
        assert_eq!(
            failed(e.run(&c.step()).await),
            "cannot start /bin/sh: nul byte found in provided data"
        );
    }

    /// A shell that leaves a background grandchild (which a kill of the
    /// shell alone would not reach) and writes its pid to `pidfile`.
    fn with_grandchild(pidfile: &Path) -> Call {
        let script = format!("/bin/sleep 30 & echo $! > {}; wait", pidfile.display());
        call(json!({"argv": ["/bin/sh", "-c", script]}))
    }

    async fn assert_gone(pidfile: &Path) {
        let pid = std::fs::read_to_string(pidfile).unwrap().trim().to_owned();
        let gone = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.split_whitespace().nth(2) == Some("Z"))
                .unwrap_or(true)
        };
        for _ in 0..50 {
            if gone() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone(), "the background sleep {pid} survived");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut c = with_grandchild(&pidfile);
        c.timeout = Some(Duration::from_millis(500));
        let started = std::time::Instant::now();
        assert_eq!(
            failed(exec(&["/bin/sh"]).run(&c.step()).await),
            "/bin/sh timed out after 500ms; its process group was killed"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_gone(&pidfile).await;
    }

    #[tokio::test]
    async fn a_process_that_left_the_group_does_not_hold_the_step() {
        // The daemon escapes the group kill and keeps stdout open; the step
        // still ends when its program does (after the pipes' grace), with
        // what the program wrote.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "/usr/bin/setsid /bin/sleep 600 & echo $! > {}; echo done",
            pidfile.display()
        );
        let mut c = call(json!({"argv": ["/bin/sh", "-c", script]}));
        c.timeout = Some(Duration::from_secs(900));
        let out = done(exec(&["/bin/sh"]).run(&c.step()).await);
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
        let _ = std::process::Command::new("/bin/kill")
            .args(["-KILL", &pid])
            .status();
        assert_eq!(out["exit_code"], json!(0));
        assert_eq!(out["stdout"], json!("done\n"));
    }

    #[tokio::test]
    async fn an_abandoned_step_kills_the_whole_process_group() {
        // The executor's own timeout drops the action's future.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let c = with_grandchild(&pidfile);
        let e = exec(&["/bin/sh"]);
        let step = c.step();
        let r = tokio::time::timeout(Duration::from_millis(500), e.run(&step)).await;
        assert!(r.is_err(), "{r:?}");
        assert_gone(&pidfile).await;
    }
}
