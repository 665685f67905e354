//! Private PostgreSQL and MariaDB servers (see the sanitizer tests).
