# Publish -> deliver latency (p50 solid, p99 dashed) against publication rate,
# one colour per server. Called by bench/run-peers:
#   gnuplot -e "term='pngcairo'; datadir='DIR'; prefix='fanout-1000'; servers='switchboard nchan';
#               labels='Switchboard nchan'; out='FILE.png'; ttl='TITLE'" bench/plot/fanout-latency.gp
# Data: DIR/PREFIX.SERVER.dat with columns "rate p50_ms p99_ms".
set macros
set terminal @term size 960,600
set output out
set title ttl
set logscale xy
set xlabel 'publications per second'
set ylabel 'publish -> deliver latency (ms)'
set grid xtics ytics mxtics mytics
set key outside right top
set format y '%g'
file(i) = sprintf('%s/%s.%s.dat', datadir, prefix, word(servers, i))
plot for [i=1:words(servers)] file(i) using 1:2 with linespoints lw 2 dt 1 pt 7 lc i title word(labels, i).' p50', \
     for [i=1:words(servers)] file(i) using 1:3 with linespoints lw 2 dt 2 pt 5 lc i title word(labels, i).' p99'
