//! `riposte serve`: the pipeline, file sources, the sweeper and the API,
//! stopped together on a shutdown signal without losing acknowledged work.

use std::future::Future;

use anyhow::Context;
use riposte_engine::source::run_file_source;
use riposte_engine::{Config, Engine, SourceConfig, pipeline};
use tokio::sync::watch;

use crate::{AppState, app};

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
    let store = engine.store().clone();
    let clock = engine.clock().clone();
    engine
        .responder()
        .reconcile(store.as_ref(), clock.now())
        .await
        .context("reconciling enforcers at start")?;
    let (handle, pipeline_task) = pipeline::spawn(engine, PIPELINE_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut tasks = Vec::new();
    for source in &config.sources {
        let SourceConfig::File { name, path, format } = source.clone();
        let fut = run_file_source(
            name.clone(),
            path,
            format,
            config.ingest,
            store.clone(),
            clock.clone(),
            handle.clone(),
            stop_rx.clone(),
        );
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

    let listener = tokio::net::TcpListener::bind(config.api_listen)
        .await
        .with_context(|| format!("binding the API to {}", config.api_listen))?;
    tracing::info!(listen = %listener.local_addr()?, "API listening");
    let state = AppState {
        store,
        pipeline: handle,
        clock,
        max_line_bytes: config.ingest.max_line_bytes,
    };
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    server.await.context("serving the API")?;
    // The router (and its pipeline handle) is dropped; wait for the sources,
    // whose handles are the last ones, then for the pipeline to drain.
    for t in tasks {
        let _ = t.await;
    }
    let _engine = pipeline_task.await.context("pipeline task")?;
    tracing::info!("stopped cleanly");
    Ok(())
}
