mod api;
mod api_reference;
mod console;
mod console_id_jag;
mod console_objects;
mod objects;
mod rate_limits;
