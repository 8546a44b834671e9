package benchmarks

import (
	_ "github.com/alexedwards/scs/goredisstore"
	_ "github.com/alexedwards/scs/v2"
	_ "github.com/gin-contrib/sessions"
	_ "github.com/gin-contrib/sessions/cookie"
	_ "github.com/gin-contrib/sessions/redis"
	_ "github.com/gin-gonic/gin"
	_ "github.com/gomodule/redigo/redis"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/sessionshield/sessionshield/ginsession"
)
