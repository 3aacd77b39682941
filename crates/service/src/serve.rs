//! `riposte serve`: the pipeline, file sources, the sweeper and the API,
//! stopped together on a shutdown signal without losing acknowledged work.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use std::pin::Pin;

use riposte_engine::listener::{self, NetSource};
use riposte_engine::source::{SourceCtx, SourceError, run_file_source};
use riposte_engine::{Engine, pipeline};
use riposte_server::{AppState, app};
use tokio::sync::watch;

use crate::{Config, SourceConfig, SourceKind};

/// How many batches may wait for the pipeline before producers block.
const PIPELINE_CAPACITY: usize = 16;

/// Runs until `shutdown` resolves, then: stops accepting requests and
/// finishes those in flight, stops sources after their current batch, lets
/// the pipeline commit what it was given, and returns.
pub async fn serve(
    config: Config,
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Read first: a bad certificate fails the start, before anything runs,
    // not the first client.
    let tls = config
        .api
        .tls
        .as_ref()
        .map(crate::http::tls_acceptor)
        .transpose()?;
    let store = engine.store().clone();
    let clock = engine.clock().clone();
    let responder = engine.responder().clone();
    engine
        .responder()
        .reconcile(store.as_ref(), clock.now())
        .await
        .context("reconciling enforcers at start")?;
    let executor = Arc::new(
        engine
            .executor(crate::effects_for(&config).context("actions")?)
            .with_config(riposte_engine::ExecutorConfig {
                workers: config.executor.workers,
                action_timeout: config.executor.action_timeout,
                lease: chrono::TimeDelta::from_std(config.executor.lease)
                    .unwrap_or(chrono::TimeDelta::seconds(60)),
                ..riposte_engine::ExecutorConfig::default()
            }),
    );
    let engine = engine.with_executor(executor.wake_handle(), config.executor.backlog);
    let intel = engine.intel().cloned();
    let (handle, pipeline_task) = pipeline::spawn(engine, PIPELINE_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Runs that were waiting, or cut short by a stop or a crash, resume in
    // the executor started below.

    let mut tasks = vec![tokio::spawn(executor.clone().serve(stop_rx.clone()))];
    if let Some(index) = intel {
        // Threat-intel feeds, each on its own interval (issue #7).
        tasks.extend(riposte_intel::feed::schedule(
            &config.intel_feeds,
            store.clone(),
            index,
            clock.clone(),
            stop_rx.clone(),
        ));
        // Sightings of MISP feeds' indicators, pushed back on their interval.
        tasks.extend(riposte_intel::sightings::schedule(
            &config.intel_feeds,
            store.clone(),
            clock.clone(),
            stop_rx.clone(),
        ));
    }
    for source in &config.sources {
        let ctx = SourceCtx {
            limits: config.ingest,
            store: store.clone(),
            clock: clock.clone(),
            pipeline: handle.clone(),
            shutdown: stop_rx.clone(),
        };
        let name = source.name.clone();
        let fut = start_source(source.clone(), ctx).await?;
        tasks.push(tokio::spawn(async move {
            if let Err(e) = fut.await {
                tracing::error!(source = %name, error = %e, "source stopped");
            }
        }));
    }

    let sweeper = {
        let handle = handle.clone();
        let mut stop = stop_rx.clone();
        let every = config.sweep_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        match handle.sweep().await {
                            Ok(n) if n > 0 => tracing::info!(expired = n, "decisions expired"),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "sweep failed"),
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
        })
    };
    tasks.push(sweeper);

    if let Some(job) = digest_job(&config)? {
        tracing::info!(at = %job.schedule.at, to = ?job.schedule.to, "review digest scheduled (UTC)");
        tasks.push(tokio::spawn(job.run(
            store.clone(),
            clock.clone(),
            stop_rx.clone(),
        )));
    }

    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("binding the API to {}", config.api.listen))?;
    let bound = listener.local_addr()?;
    tracing::info!(listen = %bound, tls = config.api.tls.is_some(), "API listening");
    let secret = riposte_auth::ServerSecret::load_or_create(&config.auth.secret_file)
        .with_context(|| format!("the server secret {}", config.auth.secret_file.display()))?;
    let guard = Arc::new(riposte_server::Guard::new(
        store.clone(),
        secret,
        riposte_server::HostPolicy::new(bound, &config.api.hosts),
        config.api.trusted_proxies.clone(),
    ));
    let state = AppState {
        guard,
        store,
        pipeline: handle,
        responder,
        executor: executor.clone(),
        clock,
        max_line_bytes: config.ingest.max_line_bytes,
        review_max_age: config.respond.review_max_age,
        bouncers: std::sync::Arc::new(riposte_server::Bouncers::new(
            config
                .bouncers
                .iter()
                .map(|b| (b.name.clone(), b.key.clone()))
                .collect(),
        )),
    };
    let mut router = app(state.clone());
    if let Some(taxii) = &config.taxii {
        // Wrong TAXII credentials count toward the same per-address limit
        // as wrong API keys.
        let taxii_routes = riposte_server::limit_failures(
            riposte_server::taxii_router(riposte_server::TaxiiState {
                config: Arc::new(taxii.clone()),
                store: state.store.clone(),
                clock: state.clock.clone(),
            }),
            state.guard.clone(),
            state.clock.clone(),
        );
        match taxii.listen {
            // Its own listener: partners reach TAXII (which authenticates
            // every request) without reaching the REST API.
            Some(addr) => {
                let taxii_listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding TAXII to {addr}"))?;
                tracing::info!(listen = %taxii_listener.local_addr()?, tls = tls.is_some(), "TAXII listening");
                let mut stop = stop_rx.clone();
                tasks.push(tokio::spawn(crate::http::serve_http(
                    "taxii",
                    taxii_listener,
                    tls.clone(),
                    taxii_routes,
                    config.api.limits,
                    async move {
                        let _ = stop.changed().await;
                    },
                )));
            }
            None => router = router.merge(taxii_routes),
        }
    }
    drop(state);
    crate::http::serve_http(
        "api",
        listener,
        tls,
        router,
        config.api.limits,
        async move {
            shutdown.await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        },
    )
    .await;
    // The router (and its pipeline handle) is dropped; wait for the sources,
    // whose handles are the last ones, then for the pipeline to drain.
    for t in tasks {
        let _ = t.await;
    }
    let _engine = pipeline_task.await.context("pipeline task")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

type SourceTask = Pin<Box<dyn Future<Output = Result<(), SourceError>> + Send>>;

/// Prepares one source. Listening sockets are bound here, so that a port in
/// use fails `serve` at start rather than later in a background task.
async fn start_source(source: SourceConfig, ctx: SourceCtx) -> anyhow::Result<SourceTask> {
    let SourceConfig {
        name,
        format,
        decode,
        kind,
    } = source;
    let net = |allow_from| NetSource {
        name: name.clone(),
        format,
        decode: decode.clone(),
        limits: ctx.limits,
        allow_from,
        stats: Default::default(),
    };
    Ok(match kind {
        SourceKind::File { path, read_rotated } => Box::pin(run_file_source(
            name,
            path,
            format,
            decode,
            read_rotated,
            ctx,
        )),
        SourceKind::SyslogUdp { listen, allow_from } => {
            let socket = listener::bind_udp(listen)
                .await
                .with_context(|| format!("source {name}: binding UDP {listen}"))?;
            tracing::info!(source = %name, listen = %socket.local_addr()?, "syslog UDP listening");
            Box::pin(listener::run_udp(
                net(allow_from),
                socket,
                ctx.clock,
                ctx.pipeline,
                ctx.shutdown,
            ))
        }
        SourceKind::SyslogTcp {
            listen,
            allow_from,
            limits,
        } => {
            let tcp = listener::bind_tcp(listen)
                .await
                .with_context(|| format!("source {name}: binding TCP {listen}"))?;
            tracing::info!(source = %name, listen = %tcp.local_addr()?, "syslog TCP listening");
            Box::pin(listener::run_tcp(
                net(allow_from),
                tcp,
                limits,
                ctx.clock,
                ctx.pipeline,
                ctx.shutdown,
            ))
        }
        SourceKind::Nats {
            url,
            stream,
            subject,
            consumer,
        } => Box::pin(riposte_engine::nats::run_nats_source(
            riposte_engine::nats::NatsSource {
                name,
                url,
                stream,
                subject,
                consumer,
                format,
                decode,
            },
            ctx,
        )),
        SourceKind::EvtxDir { path } => Box::pin(riposte_engine::evtx_dir::run_evtx_dir_source(
            name, path, ctx,
        )),
    })
}

/// The digest job a configuration asks for, if any.
pub fn digest_job(config: &Config) -> anyhow::Result<Option<crate::digest::DigestJob>> {
    let Some(schedule) = config.digest.clone() else {
        return Ok(None);
    };
    let mailer = config
        .smtp
        .as_ref()
        .map(riposte_notify::Mailer::new)
        .transpose()
        .context("notify.smtp")?;
    Ok(Some(crate::digest::DigestJob {
        schedule,
        max_age: config.respond.review_max_age,
        dir: config.data_dir.join("digests"),
        mailer,
    }))
}
