mod api;
mod console;
mod console_id_jag;
mod rate_limits;
