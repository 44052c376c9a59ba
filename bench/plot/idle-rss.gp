# Server RSS against open connections while the idle case ramps up, one line
# per server. Called by bench/run-peers:
#   gnuplot -e "term='pngcairo'; datadir='DIR'; prefix='idle'; servers='switchboard ws';
#               labels='Switchboard Node-ws'; out='FILE.png'; ttl='TITLE'" bench/plot/idle-rss.gp
# Data: DIR/PREFIX.SERVER.dat with columns "connections rss_mib" (connections
# counted as the server's descriptors above its baseline).
set macros
set terminal @term size 960,600
set output out
set title ttl
set xlabel 'open connections'
set ylabel 'server RSS, all its processes (MiB)'
set grid
set key left top
set yrange [0:*]
file(i) = sprintf('%s/%s.%s.dat', datadir, prefix, word(servers, i))
plot for [i=1:words(servers)] file(i) using 1:2 with lines lw 2 lc i title word(labels, i)
