mod api;
mod console;
mod rate_limits;
