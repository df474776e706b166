#!/usr/bin/env escript
%%! +P 4000000
%% paragram benchmark workloads in Erlang; run by the bench harness.
%%   escript bench.escript all W1 W2 W3 W4 W6   -> lines "W1 ns/round-trip", "W2 M msg/s",
%%                                                 "W3 us/process", "W4 ms", "W6 ns/message"
%%   escript bench.escript w5 N                 -> "W5 KiB/process" (run in a fresh VM)
%%   escript bench.escript w7 N                 -> "W7 s" (run in a fresh VM)
%%   escript bench.escript check                -> "ok"
-mode(compile).

main(["check"]) ->
    io:format("ok~n");
main(["all", W1, W2, W3, W4, W6]) ->
    [N1, N2, N3, N4, N6] = [list_to_integer(X) || X <- [W1, W2, W3, W4, W6]],
    io:format("W1 ~.3f~n", [w1(N1)]),
    io:format("W2 ~.3f~n", [w2(N2)]),
    io:format("W3 ~.3f~n", [w3(N3)]),
    io:format("W4 ~.3f~n", [w4(N4)]),
    io:format("W6 ~.3f~n", [w6(N6)]);
main(["w5", N]) ->
    io:format("W5 ~.3f~n", [w5(list_to_integer(N))]);
main(["w7", N]) ->
    io:format("W7 ~.3f~n", [w7(list_to_integer(N))]);
main(_) ->
    io:format(standard_error, "usage: bench.escript all W1 W2 W3 W4 W6 | w5 N | w7 N | check~n", []),
    halt(2).

now_ns() -> erlang:monotonic_time(nanosecond).

-define(DEADLINE, 60000).

await(Msg) ->
    receive Msg -> ok after ?DEADLINE -> io:format(standard_error, "deadline~n", []), halt(1) end.

%% W1: ping and pong bounce an integer N times.
w1(N) ->
    Self = self(),
    Pong = spawn(fun() -> receive {peer, P} -> pong(P) end end),
    Ping = spawn(fun() -> ping(Pong, N, Self) end),
    Pong ! {peer, Ping},
    T0 = now_ns(),
    Ping ! 0,
    await(done),
    T1 = now_ns(),
    exit(Pong, kill),
    (T1 - T0) / N.

pong(P) -> receive X -> P ! X, pong(P) end.

ping(Pong, N, Parent) ->
    receive
        X when X >= N -> Parent ! done;
        X -> Pong ! X + 1, ping(Pong, N, Parent)
    end.

%% W2: two producers send Total integers to one counting process.
w2(Total) ->
    Self = self(),
    Counter = spawn(fun() -> count(0, Total, Self) end),
    Half = Total div 2,
    Producers = [spawn(fun() -> receive go -> produce(Counter, C) end end) || C <- [Half, Total - Half]],
    T0 = now_ns(),
    [P ! go || P <- Producers],
    await(done),
    T1 = now_ns(),
    Total / ((T1 - T0) / 1.0e9) / 1.0e6.

count(Seen, Total, Parent) ->
    receive
        _X ->
            S = Seen + 1,
            case S of
                Total -> Parent ! done;
                _ -> count(S, Total, Parent)
            end
    end.

produce(_, 0) -> ok;
produce(C, K) -> C ! K, produce(C, K - 1).

%% W3: spawn N, send each a message, then stop (queued behind it), wait for all.
w3(N) ->
    T0 = now_ns(),
    Refs = [begin
                {P, R} = spawn_monitor(fun worker/0),
                P ! {msg, I},
                P ! stop,
                R
            end || I <- lists:seq(1, N)],
    [receive {'DOWN', R, process, _, normal} -> ok after ?DEADLINE -> halt(1) end || R <- Refs],
    T1 = now_ns(),
    (T1 - T0) / N / 1000.

worker() ->
    receive
        {msg, _} -> worker();
        stop -> ok
    end.

%% W4: a chain of N processes, each spawn_link-ed by the one before; kill the
%% first with an error, time until all are dead.
w4(N) ->
    Self = self(),
    First = spawn(fun() -> chain(N, Self) end),
    Pids = [receive {member, P} -> P after ?DEADLINE -> halt(1) end || _ <- lists:seq(1, N)],
    Refs = [erlang:monitor(process, P) || P <- Pids],
    T0 = now_ns(),
    exit(First, killed_by_bench),
    [receive {'DOWN', R, process, _, _} -> ok after ?DEADLINE -> halt(1) end || R <- Refs],
    T1 = now_ns(),
    (T1 - T0) / 1.0e6.

chain(Remaining, Parent) ->
    Parent ! {member, self()},
    case Remaining > 1 of
        true -> spawn_link(fun() -> chain(Remaining - 1, Parent) end);
        false -> ok
    end,
    receive never -> ok end.

%% W5: VmRSS growth per idle process, N alive.
w5(N) ->
    Before = vm_rss(),
    Self = self(),
    _Pids = [spawn(fun() -> Self ! ready, receive stop -> ok end end) || _ <- lists:seq(1, N)],
    [await(ready) || _ <- lists:seq(1, N)],
    After = vm_rss(),
    (After - Before) / N.

vm_rss() ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Bin, <<"\n">>, [global]), binary:part(L, 0, min(6, byte_size(L))) =:= <<"VmRSS:">>],
    [_, Kib | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(Kib).

%% W7: N processes spawned and alive at once, each answering one message,
%% then each told to stop; the time until every one is down, in seconds.
w7(N) ->
    Self = self(),
    T0 = now_ns(),
    Procs = [spawn_monitor(fun answer_once/0) || _ <- lists:seq(1, N)],
    [P ! {ping, Self} || {P, _} <- Procs],
    [await(pong) || _ <- Procs],
    [P ! stop || {P, _} <- Procs],
    [receive {'DOWN', _, process, _, normal} -> ok after ?DEADLINE -> halt(1) end || _ <- Procs],
    T1 = now_ns(),
    (T1 - T0) / 1.0e9.

answer_once() ->
    receive {ping, From} -> From ! pong end,
    receive stop -> ok end.

%% W6: one process with ten receive clauses; every message matches the last.
w6(N) ->
    Self = self(),
    Sink = spawn(fun() -> sink(0, N, Self) end),
    T0 = now_ns(),
    [Sink ! {r10, I} || I <- lists:seq(1, N)],
    await(done),
    T1 = now_ns(),
    (T1 - T0) / N.

sink(Seen, N, Parent) ->
    receive
        {r1, _} -> sink(Seen, N, Parent);
        {r2, _} -> sink(Seen, N, Parent);
        {r3, _} -> sink(Seen, N, Parent);
        {r4, _} -> sink(Seen, N, Parent);
        {r5, _} -> sink(Seen, N, Parent);
        {r6, _} -> sink(Seen, N, Parent);
        {r7, _} -> sink(Seen, N, Parent);
        {r8, _} -> sink(Seen, N, Parent);
        {r9, _} -> sink(Seen, N, Parent);
        {r10, _} ->
            S = Seen + 1,
            case S of
                N -> Parent ! done;
                _ -> sink(S, N, Parent)
            end
    end.
