mod api;
mod api_reference;
mod console;
mod console_id_jag;
mod rate_limits;
mod removal;
