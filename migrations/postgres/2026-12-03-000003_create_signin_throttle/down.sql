DROP TABLE known_addresses;
DROP TABLE signin_failures;
