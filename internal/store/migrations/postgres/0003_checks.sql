-- Status checks (the CHECK_ config vars): one row per run, and which run is
-- the latest of each check. Times are Unix microseconds; 0 means none.

CREATE TABLE check_results (
	id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name            text    NOT NULL, -- the check: CHECK_API is api
	app             text    NOT NULL, -- the monitored app, '' when the check names none
	kind            text    NOT NULL, -- http, redis or postgres
	time_us         bigint  NOT NULL, -- when the run started
	ok              boolean NOT NULL,
	latency_us      bigint  NOT NULL,
	value           float8,           -- http: the status; redis list: its length; NULL: none
	growth          float8,           -- redis list: items a minute since the run before; NULL: none
	cert_expires_us bigint  NOT NULL, -- https: the certificate's end of validity
	warning         text    NOT NULL,
	error           text    NOT NULL,
	worker          text    NOT NULL  -- the dyno that ran it
);
CREATE INDEX check_results_name_time ON check_results (name, time_us);

-- The latest run of each check, so that listing checks reads one row each
-- rather than scanning their history. Only moves forward in time.
CREATE TABLE check_latest (
	name      text   PRIMARY KEY,
	app       text   NOT NULL,
	result_id bigint NOT NULL, -- check_results.id
	time_us   bigint NOT NULL
);
