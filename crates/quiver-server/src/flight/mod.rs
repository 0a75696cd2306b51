//! Arrow Flight beside the HTTP API (`quiver serve --flight-port`, 8815 as
//! Feast's offline server): Feast's remote offline store protocol and
//! quiver's own training-set call, with the same tokens, scopes and TLS as HTTP.
//!
//! - `do_exchange`: a read. The descriptor command says what (see
//!   [`command`]), the uploaded table holds the entity rows; the answer is
//!   streamed back as Arrow batches.
//! - `do_get`: a read whose ticket is the command (entity rows inline as
//!   `entities`), so `get_flight_info` + `do_get` clients work too.
//! - `do_put`: Feast's writes (`offline_write_batch`, `persist`,
//!   `validate_data_source`), answered with one JSON `PutResult`.

mod calls;
mod command;
mod status;
mod tables;

use std::net::SocketAddr;

use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

use crate::auth::{authorize, bearer};
use crate::error::ApiError;
use crate::state::AppState;
use crate::tls::Tls;
use command::{Call, parse};
use status::status;

/// Serves Arrow Flight on `listener` until `stop` completes.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    tls: Option<Tls>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_bytes = state.limits.max_body_bytes;
    let service = FlightServiceServer::new(FlightApi { state })
        .max_decoding_message_size(max_bytes)
        .max_encoding_message_size(usize::MAX);
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = &tls {
        let (cert, key) = tls.pem();
        server = server
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            .map_err(std::io::Error::other)?;
    }
    server
        .add_service(service)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), stop)
        .await
        .map_err(std::io::Error::other)
}

/// The address clients are told, for the log line.
pub fn url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "grpc+tls" } else { "grpc" };
    format!("{scheme}://{addr}")
}

struct FlightApi {
    state: AppState,
}

impl FlightApi {
    fn authorize(&self, metadata: &MetadataMap, call: &Call, name: &str) -> Result<(), Status> {
        let presented = bearer(metadata.get("authorization").and_then(|v| v.to_str().ok()));
        authorize(&self.state, presented, Some(call.scope()), name).map_err(status)
    }

    /// The command of a streamed call (in its first message) and its upload.
    async fn command_and_upload(
        &self,
        request: Request<Streaming<FlightData>>,
        name: &str,
    ) -> Result<(Call, Option<arrow::array::RecordBatch>), Status> {
        let metadata = request.metadata().clone();
        let mut stream = request.into_inner();
        let first = stream.message().await?.ok_or_else(|| {
            Status::invalid_argument("the stream is empty: send a descriptor first")
        })?;
        let descriptor = first.flight_descriptor.clone().ok_or_else(|| {
            Status::invalid_argument("the first message has no flight descriptor")
        })?;
        let call = parse(&descriptor.cmd).map_err(status)?;
        self.authorize(&metadata, &call, name)?;
        // pyarrow sends the descriptor in a message of its own; only messages
        // with an IPC header carry the table.
        let rest = futures::stream::once(async { Ok(first) })
            .chain(stream)
            .try_filter(|message| std::future::ready(!message.data_header.is_empty()));
        let upload = tables::read_upload(rest, self.state.limits.max_body_bytes)
            .await
            .map_err(status)?;
        Ok((call, upload))
    }
}

type Stream<T> = BoxStream<'static, Result<T, Status>>;

#[tonic::async_trait]
impl FlightService for FlightApi {
    type HandshakeStream = Stream<HandshakeResponse>;
    type ListFlightsStream = Stream<FlightInfo>;
    type DoGetStream = Stream<FlightData>;
    type DoPutStream = Stream<PutResult>;
    type DoExchangeStream = Stream<FlightData>;
    type DoActionStream = Stream<arrow_flight::Result>;
    type ListActionsStream = Stream<ActionType>;

    async fn handshake(
        &self,
        _: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented(
            "no handshake: send `authorization: Bearer <token>` with each call",
        ))
    }

    async fn list_flights(
        &self,
        _: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        // Nothing is kept between calls: there are no flights to list.
        Ok(Response::new(futures::stream::empty().boxed()))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let descriptor = request.get_ref().clone();
        let call = parse(&descriptor.cmd).map_err(status)?;
        self.authorize(request.metadata(), &call, "get_flight_info")?;
        // The ticket is the command: do_get answers it on this server.
        let info = FlightInfo::new()
            .with_descriptor(descriptor.clone())
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(descriptor.cmd)))
            .with_total_records(-1)
            .with_total_bytes(-1);
        Ok(Response::new(info))
    }

    async fn poll_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented(
            "calls answer at once: use get_flight_info",
        ))
    }

    async fn get_schema(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        Err(Status::unimplemented(
            "a training set's schema comes with its rows: use do_exchange or do_get",
        ))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let call = parse(&request.get_ref().ticket).map_err(status)?;
        self.authorize(request.metadata(), &call, "do_get")?;
        let table = call.read(&self.state, None).await.map_err(status)?;
        Ok(Response::new(tables::answer(table)))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let (call, upload) = self.command_and_upload(request, "do_put").await?;
        let summary = call.write(&self.state, upload).await.map_err(status)?;
        let result = PutResult {
            app_metadata: summary.to_string().into(),
        };
        Ok(Response::new(
            futures::stream::once(async { Ok(result) }).boxed(),
        ))
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        let (call, upload) = self.command_and_upload(request, "do_exchange").await?;
        let table = call.read(&self.state, upload).await.map_err(status)?;
        Ok(Response::new(tables::answer(table)))
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        Err(status(ApiError::bad_request(format!(
            "unknown action `{}`: Feast's writes go through do_put",
            request.get_ref().r#type
        ))))
    }

    async fn list_actions(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        // Feast's server lists its do_put calls as actions; so does quiver.
        let actions = [
            (
                "offline_write_batch",
                "Writes the uploaded rows of one feature view to the offline store.",
            ),
            (
                "persist",
                "Builds a training set and keeps it as a saved dataset with its lineage.",
            ),
            (
                "validate_data_source",
                "Checks that a data source is defined and readable.",
            ),
        ]
        .map(|(kind, description)| {
            Ok(ActionType {
                r#type: kind.to_string(),
                description: description.to_string(),
            })
        });
        Ok(Response::new(futures::stream::iter(actions).boxed()))
    }
}
