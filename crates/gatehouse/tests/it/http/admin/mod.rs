mod api;
mod api_reference;
mod console;
mod console_id_jag;
mod objects;
mod rate_limits;
