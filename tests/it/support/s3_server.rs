//! A real S3-compatible server on 127.0.0.1 for the storage tests: `s3s-fs` serving a temporary
//! directory (each bucket is a sub-directory), with SigV4 authentication, on a thread and runtime of
//! its own so that the code under test can block on its own runtimes. Dropping it stops it.

use std::path::{Path, PathBuf};
use std::sync::Once;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s_fs::FileSystem;

pub const ACCESS_KEY: &str = "infergate-test-access";
pub const SECRET_KEY: &str = "infergate-test-secret";

/// Points the AWS credential and region chain at the test keys, and keeps it off the network (no
/// instance-metadata lookups). Every test of a binary sets the same values, once.
pub fn aws_test_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once, before any test of this binary reads the AWS environment, and never
        // changed afterwards.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            std::env::remove_var("AWS_PROFILE");
            std::env::remove_var("AWS_ENDPOINT_URL");
            std::env::remove_var("AWS_ENDPOINT_URL_S3");
        }
    });
}

pub struct S3Server {
    pub url: String,
    root: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// Starts a server holding the given (empty) buckets.
    pub fn start(buckets: &[&str]) -> S3Server {
        aws_test_env();
        let root = tempfile::tempdir().expect("temp dir");
        for bucket in buckets {
            std::fs::create_dir_all(root.path().join(bucket)).expect("bucket dir");
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let fs = FileSystem::new(root.path()).expect("s3s-fs");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let socket = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => break,
                    };
                    let conn = http
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        });
        S3Server {
            url,
            root,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Where `bucket/key` is stored on disk.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// Every object key under `bucket/prefix`, sorted.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let base = self.root.path().join(bucket);
        let mut keys = Vec::new();
        collect(&base, &base, &mut keys);
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        keys
    }
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            let key = rel.to_string_lossy().replace('\\', "/");
            // s3s-fs keeps its own metadata in hidden files.
            if !key.split('/').any(|part| part.starts_with('.')) {
                out.push(key);
            }
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
