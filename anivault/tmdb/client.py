"""The HTTP side of TMDB: tmdbv3api on our own polite ``requests.Session``.

tmdbv3api builds the URLs and knows the endpoints; everything that touches the network goes through
:class:`PoliteSession`, which tmdbv3api is handed as its session. tmdbv3api's flaws and how they are wrapped:

- it keeps the API key, the language and the last page counts in ``os.environ``, writing them from whatever
  thread makes a request (a getenv/setenv crash waiting for a worker that resolves a host name meanwhile):
  our classes replace its request step (:class:`_Wire`), which never reads or writes the environment. The
  session adds the key: a v4 read-access token (a JWT) travels only as ``Authorization: Bearer``, which is
  never part of a URL, log line or exception. A v3 key cannot (TMDB answers 401 to a v3 key as Bearer), so it
  is added to the query string at the last moment, our own errors never quote URLs, and a filter on
  urllib3's logger masks it (besides the app-wide redaction filter on every handler);
- its cache calls ``requests.request`` directly and bypasses any session: never used (``obj_cached=False``);
- its base URL is hard-coded: set from settings (``ANIVAULT_TMDB_URL``);
- it ignores ``Retry-After`` and rate limits per object: :mod:`anivault.tmdb.ratelimit` does it for all workers;
- it keeps its session on the *class*: each client binds its own subclasses, so two clients never share one;
- its ``include_adult`` parameter is built wrongly: never passed (TMDB's default leaves adult titles out).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from anivault.config import Settings
from anivault.redact import redact
from anivault.tmdb.port import TmdbBadResponse
from anivault.tmdb.ratelimit import Clock, PolitenessPolicy
from anivault.tmdb.session import KEY_ENV, ApiKey, PoliteSession, resolve_api_key

__all__ = [
    "KEY_ENV",
    "ApiKey",
    "TmdbHttpClient",
    "client_from_settings",
    "policy_from_settings",
    "resolve_api_key",
]


# --------------------------------------------------------------------------------------------------- API


class _Wire:
    """tmdbv3api's request step without its process-wide state.

    tmdbv3api reads the key and the language from ``os.environ`` and writes ``page``/``total_results``/
    ``total_pages`` there after every answer: from worker threads, while other threads resolve host names
    (getenv), a known crash. Our classes put this method first, so no request reads or writes the
    environment: the language is the object's own ``_language`` (none: TMDB's default, en-US), the key is
    the session's.
    """

    _session: PoliteSession
    _base: str
    _language: str = ""

    def _request_obj(
        self,
        action: str,
        params: str = "",
        call_cached: bool = True,
        method: str = "GET",
        data: Any = None,
        json: Any = None,
        key: str | None = None,
    ) -> Any:
        from tmdbv3api.as_obj import AsObj
        from tmdbv3api.exceptions import TMDbException

        query = "&".join(p for p in (params, _params(language=self._language)) if p)
        body = self._session.request(method, f"{self._base}{action}?{query}").json()
        if isinstance(body, dict) and "errors" in body:
            raise TMDbException(body["errors"])
        if isinstance(body, dict) and body.get("success") is False:
            raise TMDbException(body.get("status_message"))
        return AsObj(body, key=key)


def _params(**values: Any) -> str:
    return urllib.parse.urlencode([(k, str(v)) for k, v in values.items() if v is not None and v != ""])


class TmdbHttpClient:
    """Raw JSON from the TMDB endpoints AniVault uses, through tmdbv3api and the polite session."""

    def __init__(
        self,
        base_url: str,
        api_key: ApiKey,
        *,
        language: str = "en-US",
        policy: PolitenessPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        from tmdbv3api import TV, Group, Movie, Search, Season

        self.base_url = base_url.rstrip("/")
        self.language = language
        self.session = PoliteSession(api_key, policy, clock)

        # Subclasses carry our session on the class (tmdbv3api's design), one set per client. Built here,
        # in the thread that opens the client, before any worker runs: tmdbv3api's constructor sets a
        # default language in os.environ once when none is set; nothing touches the environment after.
        def make(name: str, base: type, language: str = "") -> Any:
            cls = type(name, (_Wire, base), {"_session": self.session, "_language": language})
            obj = cls(obj_cached=False)
            obj._base = self.base_url
            return obj

        # Searches and details go without a language: TMDB then answers with each title's English name
        # (or its original name), and details carry every translation; the display name in `language` is
        # picked from those (anivault.tmdb.read). Episode names come in `language`.
        self._search = make("AniVaultSearch", Search)
        self._tv = make("AniVaultTV", TV)
        self._movie = make("AniVaultMovie", Movie)
        self._season = make("AniVaultSeason", Season, language)
        self._group = make("AniVaultGroup", Group, language)

    def __repr__(self) -> str:
        return f"TmdbHttpClient({self.base_url!r})"

    @property
    def requests_sent(self) -> int:
        return self.session.attempts

    @property
    def busy_seconds(self) -> float:
        """From the first request out to the last answer in: the window the achieved rate is measured over."""
        first, last = self.session.first_sent, self.session.last_done
        return max(0.0, last - first) if first is not None and last is not None else 0.0

    def close(self) -> None:
        self.session.cancel.set()
        self.session.close()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from tmdbv3api.exceptions import TMDbException

        try:
            result = fn(*args, **kwargs)
        except TMDbException as exc:
            # the session raises for every error status, so this is a 200 that says success=false
            raise TmdbBadResponse(f"TMDB refused the request: {redact(str(exc))}") from None
        data = getattr(result, "_json", None)
        if not isinstance(data, dict):
            raise TmdbBadResponse("TMDB sent unexpected JSON")
        return data

    def search(
        self, kind: str, query: str, year: int | None = None, *, any_air_date: bool = False, page: int = 1
    ) -> dict[str, Any]:
        """``/search/tv`` or ``/search/movie``. A show's year filters on its first air date
        (``first_air_date_year``), or with ``any_air_date`` on any of its air dates (``year``), as TMDB
        documents; a film's on any of its release dates."""
        if kind == "movie":
            return self._call(self._search.movies, query, year=year, page=page)
        if any_air_date and year is not None:
            # tmdbv3api has no parameter for it: the same request with `year` in place
            params = _params(query=query, page=page, year=year)
            return self._call(
                self._search._request_obj, self._search._urls["tv_shows"], params, key="results"
            )
        return self._call(self._search.tv_shows, query, release_year=year, page=page)

    def details(self, kind: str, tmdb_id: int) -> dict[str, Any]:
        append = "alternative_titles,translations,external_ids"
        obj = self._tv if kind == "tv" else self._movie
        return self._call(obj.details, int(tmdb_id), append_to_response=append)

    def season(self, tmdb_id: int, season: int) -> dict[str, Any]:
        return self._call(self._season.details, int(tmdb_id), int(season), append_to_response="")

    def episode_groups(self, tmdb_id: int) -> dict[str, Any]:
        return self._call(self._tv.episode_groups, int(tmdb_id))

    def episode_group(self, group_id: str) -> dict[str, Any]:
        return self._call(self._group.details, urllib.parse.quote(group_id, safe=""))


def policy_from_settings(settings: Settings, rate: float | None = None) -> PolitenessPolicy:
    t = settings.tmdb
    policy = PolitenessPolicy(
        rate=float(rate if rate is not None else t.rate),
        concurrency=int(t.concurrency),
        read_timeout=float(t.timeout),
        connect_timeout=min(5.0, float(t.timeout)),
        retry_after_cap=float(t.retry_after_cap),
    )
    for name in (
        "deadline",
        "retries",
        "breaker_window",
        "breaker_min_calls",
        "breaker_ratio",
        "breaker_cooldown",
        "max_body_bytes",
    ):
        value = getattr(t, name, None)
        if value is not None:
            setattr(policy, name, type(getattr(policy, name))(value))
    return policy


def client_from_settings(
    settings: Settings, rate: float | None = None, clock: Clock | None = None
) -> TmdbHttpClient:
    key = resolve_api_key(settings)
    return TmdbHttpClient(
        settings.tmdb.base_url,
        key,
        language=settings.tmdb.language,
        policy=policy_from_settings(settings, rate),
        clock=clock,
    )
