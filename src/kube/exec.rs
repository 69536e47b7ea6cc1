//! Exec in a probe or host pod over the API's websocket: the plan on stdin,
//! the agent's answer on stdout.

use super::client::api_error;
use super::manifests;
use super::runtime::KubeRuntime;
use crate::runtime::{Result, RuntimeError};
use ::kube::api::{Api, AttachParams};
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

impl KubeRuntime {
    pub(super) async fn exec(
        &self,
        pod: &str,
        command: Vec<String>,
        stdin: Option<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let ns = self.namespace();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let ap = AttachParams::default()
            .container(manifests::CONTAINER)
            .stdin(stdin.is_some())
            .stdout(true)
            .stderr(true);
        let mut proc = api
            .exec(pod, command.clone(), &ap)
            .await
            .map_err(|e| api_error(&format!("exec in pod {ns}/{pod}"), &self.server, e))?;
        let status = proc.take_status();
        // The agent reads its plan up to the end of the JSON document, so
        // stdin stays open until the answer is in: before Kubernetes 1.30
        // (no v5 channel protocol) closing stdin closes the whole stream,
        // the answer with it. It is dropped (closed) after reading.
        let mut _stdin_open = None;
        if let (Some(data), Some(mut w)) = (stdin, proc.stdin()) {
            w.write_all(&data)
                .await
                .map_err(|e| RuntimeError::io(format!("sending the plan to pod {pod}"), e))?;
            w.flush().await.ok();
            _stdin_open = Some(w);
        }
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (mut so, mut se) = (proc.stdout(), proc.stderr());
        let read_out = async {
            if let Some(s) = so.as_mut() {
                s.read_to_end(&mut out).await.map(|_| ())
            } else {
                Ok(())
            }
        };
        let read_err = async {
            if let Some(s) = se.as_mut() {
                s.read_to_end(&mut err).await.map(|_| ())
            } else {
                Ok(())
            }
        };
        let (a, b) = tokio::join!(read_out, read_err);
        drop(_stdin_open);
        a.map_err(|e| RuntimeError::io(format!("reading the answer of pod {pod}"), e))?;
        b.ok();
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        proc.join().await.ok();
        if let Some(s) = status
            && s.status.as_deref() == Some("Failure")
            && out.is_empty()
        {
            let stderr = String::from_utf8_lossy(&err);
            return Err(RuntimeError::Other(format!(
                "`{}` failed in pod {ns}/{pod}: {}{}",
                command.join(" "),
                s.message.unwrap_or_default(),
                stderr
                    .lines()
                    .last()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )));
        }
        Ok(out)
    }
}
