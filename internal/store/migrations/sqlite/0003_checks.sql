-- Status checks, embedded SQLite: the tables of the Postgres migration, with
-- booleans as 0/1.

CREATE TABLE check_results (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	name            TEXT    NOT NULL,
	app             TEXT    NOT NULL,
	kind            TEXT    NOT NULL,
	time_us         INTEGER NOT NULL,
	ok              INTEGER NOT NULL,
	latency_us      INTEGER NOT NULL,
	value           REAL,
	growth          REAL,
	cert_expires_us INTEGER NOT NULL,
	warning         TEXT    NOT NULL,
	error           TEXT    NOT NULL,
	worker          TEXT    NOT NULL
);
CREATE INDEX check_results_name_time ON check_results (name, time_us);

CREATE TABLE check_latest (
	name      TEXT    PRIMARY KEY,
	app       TEXT    NOT NULL,
	result_id INTEGER NOT NULL,
	time_us   INTEGER NOT NULL
) WITHOUT ROWID;
