//! Response bodies encoded while they are sent: the encoder runs on a blocking
//! thread and hands 64 KiB chunks to the connection through a bounded channel.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures::SinkExt;
use futures::channel::mpsc;
use quiver_offline::TableRows;
use quiver_offline::formats::{TableFormat, write_table};

const CHUNK_BYTES: usize = 64 * 1024;
/// Rows per encoded slice: the encoder never holds more than one slice's bytes.
const CHUNK_ROWS: usize = 16 * 1024;

/// A `Write` that forwards full chunks to the response body.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        futures::executor::block_on(self.tx.send(Ok(chunk))).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A body that streams `table` encoded as `format`, asking it for one slice
/// of rows at a time.
pub fn streamed(format: TableFormat, table: Arc<dyn TableRows>) -> Body {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx,
            buffer: Vec::with_capacity(CHUNK_BYTES),
        };
        let result = write_table(format, table.as_ref(), &mut writer, CHUNK_ROWS);
        let result = result
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|()| writer.flush());
        if let Err(error) = result {
            tracing::warn!(%error, "training set response cut short");
            let _ = futures::executor::block_on(writer.tx.send(Err(error)));
        }
    });
    Body::from_stream(rx)
}
