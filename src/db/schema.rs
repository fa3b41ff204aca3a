//! Diesel table definitions, shared by both backends. Times are Unix seconds.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        user_agent -> Nullable<Text>,
        client_addr -> Nullable<Text>,
    }
}

diesel::table! {
    single_use_tokens (jti) {
        jti -> Text,
        user_id -> BigInt,
        session_id -> Nullable<Text>,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(single_use_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(users, sessions, single_use_tokens);

diesel::table! {
    signin_failures (id) {
        id -> BigInt,
        username -> Text,
        client_addr -> Text,
        failed_at -> BigInt,
    }
}

diesel::table! {
    known_addresses (user_id, client_addr) {
        user_id -> BigInt,
        client_addr -> Text,
        last_seen_at -> BigInt,
    }
}

diesel::joinable!(known_addresses -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(known_addresses, users);
