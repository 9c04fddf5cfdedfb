//! vsctl, the operator's command line for vswitchd: sends one request over the
//! control socket and prints the reply as tables or JSON.
#![forbid(unsafe_code)]
mod app;
mod args;
mod client;
mod flows_file;
mod port_settings;
mod proto;
mod render;
mod table;
#[cfg(test)]
mod test_server;

fn main() -> std::process::ExitCode {
    app::main()
}
