mod api;
mod api_reference;
mod console;
mod console_id_jag;
mod operator_console;
mod rate_limits;
mod removal;
