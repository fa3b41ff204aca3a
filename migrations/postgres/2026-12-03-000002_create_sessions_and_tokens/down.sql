DROP TABLE single_use_tokens;
DROP TABLE sessions;
