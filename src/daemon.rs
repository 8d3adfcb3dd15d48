//! [`run`]: from a checked configuration to a serving model, the one entry
//! point the command line and a library user share.

use crate::config::{Config, ListenAddr, Model};
use crate::error::{Error, Stopped};
use crate::{listen, log, models, net, supervisor};

/// Binds every listener in `config` (or takes the sockets passed by
/// socket activation instead), sets up the configured model, announces
/// the listeners on stdout (one line each: `listening on tcp://ADDR`,
/// `udp://ADDR` or `unix:///PATH`, with the real port; printed once
/// signals are handled) and serves until a signal stops it.
///
/// Either every listener is bound and announced, or none is and
/// [`Error::Startup`] names the address that failed (or `--model tokio`,
/// in a build without the `tokio` feature; or `--model uring` and why
/// io_uring cannot be had).
pub fn run(config: Config) -> Result<Stopped, Error> {
    // Flags that cannot work together: refused before anything is bound,
    // like a bad argument.
    config.check().map_err(Error::Usage)?;
    // Likewise a build without the model, naming the flag.
    #[cfg(not(feature = "tokio"))]
    if config.model == Model::Tokio {
        return Err(Error::Startup(
            "--model tokio: not in this build (built without the cargo feature `tokio`)".into(),
        ));
    }
    #[cfg(not(all(feature = "uring", target_os = "linux")))]
    if config.model == Model::Uring {
        return Err(Error::Startup(if cfg!(target_os = "linux") {
            "--model uring: not in this build (built without the cargo feature `uring`)".into()
        } else {
            "--model uring: io_uring is Linux only".into()
        }));
    }
    // Sockets passed by a service manager replace `--listen`.
    let inherited = listen::activation::take().map_err(Error::Startup)?;
    // Their names, kept for the warnings below (the start line has its own).
    let mut fd_names = Vec::new();
    let inherited = inherited.map(|sockets| {
        let (bound, names): (Vec<_>, Vec<_>) = sockets.into_iter().unzip();
        if config.listen_given {
            log::line(format_args!(
                "--listen ignored: serving the {} socket(s) systemd passed instead \
                 (socket activation, LISTEN_FDS)",
                bound.len()
            ));
        }
        fd_names.clone_from(&names);
        log::passed_by_systemd(names);
        bound
    });
    let addrs: Vec<ListenAddr> = match &inherited {
        Some(bound) => bound.iter().map(listen::Bound::listen_addr).collect(),
        None => config.listen.clone(),
    };
    // A kind the model does not serve (udp: with iterative), and so on.
    listen::check(&config, &addrs, inherited.is_some()).map_err(Error::Startup)?;
    if let Some(bound) = &inherited {
        listen::activation::warn_small_receive_buffers(bound, &fd_names);
    }
    net::raise_fd_limit();
    let activated = inherited.is_some();
    let listeners = match inherited {
        Some(bound) => bound,
        None => listen::bind_all(&config)?,
    };
    // Each model logs its own stop line, with its totals.
    match config.model {
        Model::Reactor => supervisor::run(&config, listeners, activated),
        Model::Threads => models::threads::run(&config, listeners),
        Model::Iterative => models::iterative::run(&config, listeners),
        #[cfg(feature = "tokio")]
        Model::Tokio => models::tokio::run(&config, listeners),
        #[cfg(not(feature = "tokio"))]
        Model::Tokio => unreachable!("refused before binding"),
        #[cfg(all(feature = "uring", target_os = "linux"))]
        Model::Uring => models::uring::run(&config, listeners),
        #[cfg(not(all(feature = "uring", target_os = "linux")))]
        Model::Uring => unreachable!("refused before binding"),
    }
}
